from rolegate.cli import main

main()
