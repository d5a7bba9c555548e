"""Header edits keep the bytes; the message view is bounded and never raises."""

from __future__ import annotations

from email.message import EmailMessage

from gateway.headers import edit_headers, has_prefix, is_named
from gateway.message import Limits, Message


def test_edit_headers_keeps_body_and_folds_bytes_exactly():
    raw = (b"From: a@example.org\r\nX-Aupgate-Verdict: deliver\r\nSubject: one\r\n two\r\n"
           b"\r\nbody line\r\nX-Aupgate-Verdict: in the body stays\r\n")
    out = edit_headers(raw, add=[("X-Aupgate-Verdict", "tag")],
                       remove=[has_prefix("x-aupgate-")])
    assert out == (b"X-Aupgate-Verdict: tag\r\nFrom: a@example.org\r\nSubject: one\r\n two\r\n"
                   b"\r\nbody line\r\nX-Aupgate-Verdict: in the body stays\r\n")


def test_remove_by_name_and_value():
    raw = (b"Authentication-Results: mx.trust; spf=pass\r\n"
           b"Authentication-Results: other.example; spf=fail\r\n\r\nx\r\n")
    ours = edit_headers(raw, remove=[lambda n, v: n == "authentication-results"
                                     and v.startswith("mx.trust")])
    assert ours == b"Authentication-Results: other.example; spf=fail\r\n\r\nx\r\n"
    assert edit_headers(raw, remove=[is_named("Authentication-Results")]) == b"\r\nx\r\n"


def nested(depth: int) -> bytes:
    inner = EmailMessage()
    inner["Subject"] = "leaf"
    inner.set_content("leaf")
    for i in range(depth):
        outer = EmailMessage()
        outer["Subject"] = f"level {i}"
        outer.set_content("wrapper")
        outer.add_attachment(inner)
        inner = outer
    return inner.as_bytes()


def test_depth_past_the_bound_is_reported_not_raised():
    msg = Message.parse(nested(30), Limits(max_depth=10))
    assert msg.limits_exceeded and "nesting" in msg.limits_exceeded[0]


def test_part_count_past_the_bound_is_reported():
    m = EmailMessage()
    m.set_content("x")
    for i in range(50):
        m.add_attachment(b"x", maintype="application", subtype="octet-stream",
                         filename=f"{i}.bin")
    msg = Message.parse(m.as_bytes(), Limits(max_parts=20))
    assert msg.limits_exceeded == ["more than 20 MIME parts"]


def test_garbage_parses_with_defects(shared):
    msg = Message.parse(b"\x00\xff\xfe garbage\r\n\r\n\r\n--\r\n")
    assert msg.subject == ""
    paths = sorted((shared / "data" / "mail" / "cpython-email" / "data").glob("msg_*.txt"))
    assert len(paths) > 40
    for path in paths:
        Message.parse(path.read_bytes())  # none of CPython's edge cases may raise


def test_true_type_comes_from_the_bytes_not_the_name():
    m = EmailMessage()
    m.set_content("see attached")
    m.add_attachment(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", maintype="image",
                     subtype="jpeg", filename="photo.jpg")
    [part] = Message.parse(m.as_bytes()).attachments
    assert part.declared_type == "image/jpeg" and part.true_type == "application/pdf"


def test_encoded_headers_are_decoded_after_the_address_is_split():
    msg = Message.parse(b"From: =?utf-8?q?Smith=2C_J=C3=B6rg?= <j@x.example>\r\n"
                        b"Subject: =?utf-8?b?SGVsbG8gd29ybGQ=?=\r\n"
                        b"Reply-To: a@b.example, \"C, D\" <c@d.example>\r\n\r\nhi\r\n")
    assert msg.from_parsed == ("Smith, Jörg", "j@x.example")
    assert msg.subject == "Hello world"
    assert msg.reply_to_addresses == ["a@b.example", "c@d.example"]
