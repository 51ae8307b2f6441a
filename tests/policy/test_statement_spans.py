"""Statement positions in a policy's text (what the policy simulator reports)."""

from __future__ import annotations

import json

from rolegate.policy import parse_policy
from rolegate.policy.spans import SourcePosition, SourceSpan, statement_spans


def _at(line: int, column: int) -> SourcePosition:
    return SourcePosition(line, column)


def test_aws_one_line_example_columns_38_to_167() -> None:
    # The document and positions of AWS's `aws iam simulate-custom-policy` example output.
    text = (
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*",'
        '"Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}'
    )
    assert len(parse_policy(text).statements) == 1
    assert statement_spans(text) == (SourceSpan(_at(1, 38), _at(1, 167)),)


def test_statements_of_a_multi_line_list() -> None:
    text = "\n".join(
        [
            "{",  # 1
            '  "Statement": [',  # 2
            "    {",  # 3
            '      "Sid": "A", "Effect": "Allow",',  # 4
            '      "Action": ["s3:GetObject", "s3:PutObject"],',  # 5
            '      "Resource": "arn:aws:s3:::b/{x}[y]\\"}"',  # 6 (brackets inside a string)
            "    },",  # 7
            '\t{"Effect": "Deny", "Action": "s3:*", "Resource": "*",',  # 8 (a tab counts one)
            '     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}',  # 9
            "  ],",  # 10
            '  "Version": "2012-10-17"',  # 11
            "}",
        ]
    )
    assert len(parse_policy(text).statements) == 2
    assert statement_spans(text) == (
        SourceSpan(_at(3, 6), _at(7, 6)),
        SourceSpan(_at(8, 3), _at(9, 62)),
    )


def test_windows_line_endings_and_nested_policy_like_strings() -> None:
    text = (
        '{\r\n "Id": "{\\"Statement\\": [{}]}",\r\n "Version": "2012-10-17",\r\n'
        ' "Statement": [\r\n  {"Effect": "Allow", "Action": "*", "Resource": "*"}\r\n ]\r\n}'
    )
    assert len(parse_policy(text).statements) == 1
    assert statement_spans(text) == (SourceSpan(_at(5, 4), _at(5, 54)),)


def test_every_span_starts_after_an_opening_brace_and_ends_after_its_closing_one() -> None:
    statements = [
        {"Sid": f"S{n}", "Effect": "Allow", "Action": f"s3:Get{n}", "Resource": "*"}
        for n in range(5)
    ]
    text = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=3)
    lines = text.split("\n")
    spans = statement_spans(text)
    assert len(spans) == 5
    for number, span in enumerate(spans):
        assert lines[span.start.line - 1][span.start.column - 2] == "{"
        assert lines[span.end.line - 1][span.end.column - 2] == "}"
        between = lines[span.start.line - 1 : span.end.line]
        assert f'"Sid": "S{number}"' in "\n".join(between)


def test_no_statement_means_no_spans() -> None:
    assert statement_spans('{"Version": "2012-10-17"}') == ()
    assert statement_spans("[]") == ()
    assert statement_spans('{"Statement": "nope"}') == ()
    assert statement_spans('{"Statement": [') == ()  # not JSON
