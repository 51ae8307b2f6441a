"""EC2 on the one endpoint: a small compute service whose instances the policy engine guards.

`instances` and `tags` are the use cases (a `UnitOfWork` first, like IAM's), `access` asks
the engine with EC2's resource ARNs and condition keys, `states` is the instance life cycle
on the store's clock, `catalog` the built-in images and instance types.
"""
