"""Mail made to crash the reader or hold it: each shape is read, in bounded work.

Anyone can mail a board; a reader process is killed after 5 minutes a message. Each test
here held a reader for minutes (or crashed it) before its fix; none asserts on time: a
generous alarm stops one that hangs again, or the work a stage does is shown bounded.
"""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Any

import docx
import pytest

from pipeline import audit, byline, dedup, reading, retention
from pipeline.checks import Facts, security_marking
from pipeline.classify import Sender
from pipeline.commands import Unreadable, Verb, fresh_text, read_command
from pipeline.config import Board, load_board
from pipeline.diffing import text_diff_html
from pipeline.docmeta import classify_submission
from pipeline.docx import docx_to_html
from pipeline.files import FileStore
from pipeline.flowed import unflow
from pipeline.parsing import MAX_BODY_BYTES, MAX_HTML_CHARS, MAX_TEXT_CHARS, parse_message
from pipeline.sanitize import MAX_DEPTH, sanitize_html, text_to_html
from pipeline.vietnamese import encode_legacy
from tests.helpers import CONFIG, within


@pytest.fixture(scope="module")
def board() -> Board:
    return load_board(CONFIG / "demo.toml")


def mail(body: str | bytes, ctype: str = "text/html; charset=utf-8", headers: str = "") -> bytes:
    data = body.encode() if isinstance(body, str) else body
    head = (
        "From: Lê Minh Châu <chau.lm@sgddt.demo.bientap.vn>\r\nTo: bbt@demo.bientap.vn\r\n"
        f"Subject: Tin hoạt động\r\nMessage-ID: <hostile@demo.bientap.vn>\r\n{headers}"
        f"MIME-Version: 1.0\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + data


def read(board: Board, tmp_path: Path, raw: bytes) -> reading.Reading:
    with within():
        return reading.read(board, FileStore(tmp_path), raw)


def nesting(html: str) -> int:
    depth = deepest = 0
    for closing in re.findall(r"<(/?)div\b", html):
        depth += -1 if closing else 1
        deepest = max(deepest, depth)
    return deepest


# --------------------------------------------------------------------------- HTML


def test_html_nested_thousands_deep_is_read(board: Board, tmp_path: Path) -> None:
    """bs4 joins a body's strings recursively: past Python's recursion limit the reader
    raised RecursionError, for a body any unclosed tag repeated makes."""
    result = read(board, tmp_path, mail("<div>" * 5000 + "Tin hoạt động của Sở"))
    assert result.outcome == "submission"
    assert "Tin hoạt động của Sở" in result.text


def test_html_with_a_section_python_does_not_know_is_read(board: Board, tmp_path: Path) -> None:
    """html.parser raises on "<![" before a word it does not know: bs4 gave up the body."""
    result = read(board, tmp_path, mail("<p>Tin hoạt động của Sở</p><![x y"))
    assert result.outcome == "submission"
    assert result.text.startswith("Tin hoạt động của Sở")


@pytest.mark.parametrize("unit", ["<a b='>'", "<a ", "<!--x>"])
def test_html_of_constructs_left_open_is_read_once(board: Board, tmp_path: Path, unit: str) -> None:
    """html.parser reads a construct that never ends as text and scans again from the next
    character to the end: 40 KB of "<a " took 45 s, 400 KB hours."""
    result = read(board, tmp_path, mail("<p>Tin hoạt động</p>" + unit * (400_000 // len(unit))))
    assert result.outcome == "submission"
    assert result.text.startswith("Tin hoạt động")


def test_html_nested_deeper_than_an_article_is_flattened_before_nh3() -> None:
    """nh3 looks through every open element at each tag: 40,000 nested took 9 s a pass,
    200,000 hours. What it is given nests at most MAX_DEPTH deep; the text stays."""
    clean = sanitize_html("<div>" * 30_000 + "Nội dung")
    assert nesting(clean.html) <= MAX_DEPTH
    assert "Nội dung" in clean.html


def test_thousands_of_spans_anchors_images_and_blank_paragraphs_are_cleaned_together() -> None:
    """Each unwrap or removal looked for the element's place among its siblings: 100,000
    spans took minutes. Their text stays, in order, and each remote image is listed once."""
    parts = [
        f'<span>t{i}</span><a href="javascript:x">a{i}</a><p> </p><img src="http://x.vn/{i % 500}">'
        for i in range(20_000)
    ]
    with within():
        clean = sanitize_html("<div>" + "".join(parts) + "</div>")
    assert clean.html.startswith("<div>t0a0t1a1t2a2")
    assert clean.html.endswith("t19999a19999</div>")
    assert clean.remote_images == tuple(f"http://x.vn/{i}" for i in range(500))


def test_a_line_of_no_break_spaces_is_made_html_in_linear_time() -> None:
    """nh3 takes time quadratic in the no-break spaces (and "&", U+0080-U+00BF) of one text:
    a line of 1 MB of them took a minute. The text comes out whole."""
    line = "a\xa0&\x85" * 500_000
    with within():
        html = text_to_html(line)
    assert html.count("&nbsp;") == 500_000 and html.count("&amp;") == 500_000


def test_a_link_followed_by_a_run_of_brackets_is_made_html(board: Board, tmp_path: Path) -> None:
    """A plain-text link loses the punctuation after it, but a closing bracket of its own:
    each character was cut off the link in turn and its brackets counted again, so 100,000
    ")" after a link took 4 s, a mail's megabyte of them minutes."""
    body = "Xem http://sgddt.demo.bientap.vn/tin" + ")" * (MAX_TEXT_CHARS - 40)
    result = read(board, tmp_path, mail(body, "text/plain; charset=utf-8"))
    assert '<a href="http://sgddt.demo.bientap.vn/tin" ' in result.html


def test_an_html_body_over_the_bound_is_cut_and_said_so() -> None:
    """25 MB of "<br>" held a reader for many minutes and gigabytes. A body over
    MAX_HTML_CHARS is cut (pictures pasted as data: URLs go first) and the cut is a defect
    that tells the reviewer content was lost."""
    picture = "<img src='data:image/png;base64," + "A" * 2_000_000 + "'>"
    kept = parse_message(mail(f"<p>Trước ảnh</p>{picture}<p>Sau ảnh</p>"))
    assert kept.html_body is not None and "Sau ảnh" in kept.html_body
    assert not any("cut to" in d for d in kept.defects)
    cut = parse_message(mail("<p>Tin</p>" + "<br>" * 1_000_000))
    assert cut.html_body is not None and len(cut.html_body) <= MAX_HTML_CHARS
    assert any(f"cut to {MAX_HTML_CHARS}" in d for d in cut.defects)


def test_text_bodies_over_the_bounds_are_cut_and_said_so() -> None:
    """The size limit of TCVN3 lines took four minutes to decode and convert, as many
    parts as long. All body parts decode at most MAX_BODY_BYTES, the text is at most
    MAX_TEXT_CHARS, and each cut is a defect that tells the reviewer content was lost."""
    long = parse_message(mail(b"Th\xabng b\xb8o\n" * 150_000, "text/plain"))
    assert len(long.text_body) == MAX_TEXT_CHARS
    assert any(f"cut to {MAX_TEXT_CHARS}" in d for d in long.defects)
    part = b"Content-Type: text/plain\r\n\r\n" + b"a" * 1_000_000
    many = b"\r\n--b\r\n".join([b"", *[part] * 6]) + b"\r\n--b--\r\n"
    parsed = parse_message(mail(many, 'multipart/mixed; boundary="b"'))
    assert f"text/plain: body part of 1000000 bytes cut to {MAX_BODY_BYTES % 1_000_000}" in (
        parsed.defects
    )
    assert len(parsed.text_body) == MAX_TEXT_CHARS


def test_forwarded_html_nested_deep_is_read(board: Board, tmp_path: Path) -> None:
    """The forwarding's header block is looked for in each innermost block: asked of each
    block, bs4 walks down to its last descendant, 5,000 nested took seconds, 20,000 minutes."""
    body = "---------- Forwarded message ---------" + "<div>" * 20_000 + "Tin hoạt động"
    result = read(board, tmp_path, mail(body))
    assert result.outcome == "submission" and "Tin hoạt động" in result.text


def test_legacy_html_of_many_texts_in_one_block_is_converted() -> None:
    """Each TCVN3 text converted was put back by bs4, which looks for its place among its
    siblings: 80,000 lines in one paragraph took minutes."""
    with within():
        html = reading._normalize_html("<p>" + "Th«ng b¸o<br/>" * 80_000 + "</p>", "tcvn3")
    assert html.startswith("<p>Thông báo<br/>Thông báo<br/>") and html.count("Thông báo") == 80_000


# --------------------------------------------------------------------------- text


def test_a_flowed_paragraph_of_many_lines_is_joined_in_linear_time() -> None:
    """Each flowed line was joined to the paragraph so far: 400,000 lines took minutes."""
    with within():
        text = unflow("từ \n" * 400_000)
    assert text == "từ " * 400_000 + "\n"


@pytest.mark.parametrize(
    ("text", "delsp"), [("số \n" + "\n" * 400_000, False), ("Tin \n" + "  \n" * 400_000, True)]
)
def test_a_flowed_line_before_many_empty_ones_is_joined_in_linear_time(
    text: str, delsp: bool
) -> None:
    """A flowed line as long as a signature separator ("số ") was joined again at each
    empty line after it, to be compared with "-- "; with DelSp each line looked back past
    the empty ones before it for the last character: 100,000 lines took 10 s and 40 s."""
    with within():
        assert unflow(text, delsp=delsp) == (text if not delsp else text.split()[0] + "\n")


def _titled(board: Board, title: str, **more: Any) -> Facts:
    """What the checks know of a mail with ``title`` and nothing else (``more`` aside)."""
    return Facts(
        board=board,
        sender=Sender(None, None),
        title=title,
        text="",
        byline=None,
        file_names=(),
        oversized=(),
        duplicate_of=None,
        legacy_encoding=None,
        remote_images=(),
        **more,
    )


def test_a_subject_of_open_brackets_is_checked(board: Board) -> None:
    """The security check looked for the end of a tag from each "[" to the end of the
    title: a subject of 60,000 "[" took half a minute, the title of a forwarded one more."""
    with within():
        flag = security_marking(_titled(board, "[MẬT] tin " + "[" * 300_000))
    assert flag is not None and flag.code == "security-marking"


def test_a_degree_label_before_many_line_breaks_is_checked(board: Board) -> None:
    """ "Độ mật:" is read with the blanks around its colon: two runs of them split a run of
    blanks in every way, 10,000 line breaks after the label took 7 s in a Word file's
    opening (cut to 3,000 characters there, so under a second a file, but each file)."""
    facts = _titled(board, "[MẬT] Tin", attached_heads=("Độ mật" + "\n" * 100_000,))
    with within():
        flag = security_marking(facts)
    assert flag is not None and flag.code == "security-marking"


@pytest.mark.parametrize("line", ["a{}b", "Tác giả: a{}b", "Tin: a{}b\n" * 3000])
def test_lines_of_spaces_are_read_for_a_byline(line: str) -> None:
    """A byline's patterns tried each space of a run against the rest of the line: a
    signature ("Thu Hà - TTVH") 20,000 spaces long took 8 s, a label ("Tác giả: …") 2,000
    spaces long 10 s, and a mail's megabyte of them hours."""
    spaces = " " * (MAX_TEXT_CHARS // line.count("{}") // 2)
    with within():
        found = byline.extract("Tin.\n" + line.replace("{}", spaces))
    assert found.author in (None, "a" + spaces + "b")


def test_an_eight_bit_body_of_one_long_word_is_decoded(board: Board, tmp_path: Path) -> None:
    """Which code page an 8-bit body is in is told by its Vietnamese words, found by a
    pattern that tried each letter of a word without a Vietnamese letter against the rest
    of it: 100,000 "µ" took minutes, a mail's megabyte hours."""
    body = "Tin văn hóa ".encode("cp1258") + b"\xb5" * MAX_TEXT_CHARS
    result = read(board, tmp_path, mail(body, "text/plain; charset=windows-1258"))
    assert result.outcome == "submission" and result.text.startswith("Tin văn hóa µµµ")


def test_a_text_of_digits_is_sketched_for_duplicates() -> None:
    """The days a text names were looked for from each digit of a run to its end: 40,000
    digits took 20 s, and a mail's megabyte of them hours."""
    with within():
        assert dedup.days("1" * MAX_TEXT_CHARS + " 20/3 và 5 tháng 11") == {(20, 3), (5, 11)}


# --------------------------------------------------------------------------- Word files


def test_a_word_file_naming_a_legacy_font_of_any_length_is_read() -> None:
    """Whether a TCVN3 font draws capitals is read from its name without the styles that
    end it (".VnTimeH Bold"): a pattern anchored at the name's end tried each separator of
    a run of them, and a name 10,000 characters long took 12 s for each run in it."""
    document = docx.Document()
    paragraph = document.add_paragraph()
    paragraph.add_run(encode_legacy("Thông báo ", "tcvn3")).font.name = ".VnTime"
    paragraph.add_run(encode_legacy("khẩn", "tcvn3")).font.name = ".VnTime" + ", -" * 20_000 + "x"
    buffer = BytesIO()
    document.save(buffer)
    with within():
        article = docx_to_html(buffer.getvalue())
    assert "Thông báo khẩn" in article.html


def test_a_document_named_by_digits_of_any_length_is_classified() -> None:
    """A file named like a document's symbol ("52_STP-VP.pdf") makes a submission an
    official document; the pattern was tried from each digit of a name: 30,000 took 4 s
    (names are cut to 180 characters when a mail is read, but not by this function)."""
    types = [("1" * 200_000 + "_STP.pdf", "application/pdf")]
    with within():
        kind, _document = classify_submission("Gửi tài liệu", "", types)
    assert kind == classify_submission("Gửi tài liệu", "", [("1_STP.pdf", "application/pdf")])[0]


# --------------------------------------------------------------------------- replies


def test_a_reply_of_many_bracketed_addresses_is_read(board: Board, tmp_path: Path) -> None:
    """ "<x@y> … wrote:" was one expression that, on a line of many "<a@b>", backtracked
    from each: 100 KB took minutes. Any mail naming a Message-ID is read as a reply."""
    raw = mail("<a@b.vn> " * 40_000, "text/plain; charset=utf-8", "In-Reply-To: <x@y.vn>\r\n")
    result = read(board, tmp_path, raw)
    assert result.outcome == "submission"
    assert result.reply is not None and isinstance(result.reply.command, Unreadable)


def test_a_reply_of_a_megabyte_of_words_without_a_command_is_read() -> None:
    """A command written inside a line is looked for to say so; every word was asked of
    every command pattern: a reply's megabyte of words took 14 s (under a second now)."""
    with within(5):
        command = read_command("Em gửi lại bài ạ " * (MAX_TEXT_CHARS // 17) + "duyệt")
    assert isinstance(command, Unreadable) and "“duyệt” nhưng không ở đầu dòng" in command.reason


def test_a_correction_of_many_repeated_lines_is_compared_with_the_item() -> None:
    """A sender's new version is shown to the reviewers against the old, line by line:
    lines are matched in time cubic in them at worst, and 3,000 lines of one word against
    their correction with a line added after each took minutes of the daemon's time."""
    with within():
        html = text_diff_html("Tin\n" * 3000, "Tin\nMới\n" * 1500)
    assert "Mới" in html and "Tin" in html


def test_a_reason_of_one_long_word_is_sealed_and_scrubbed(board: Board) -> None:
    """A reviewer's reason («TỪ CHỐI: …», any length by mail) goes on the record, and the
    record is looked through for addresses when it is sealed and when personal data is
    purged: the pattern tried each letter of a word against the rest of it, 100,000 letters
    took 14 s of the daemon's own time, a megabyte hours."""
    reason = "a" * MAX_TEXT_CHARS + " lê.an@gmail.com, " + board.members[0].email
    with within():
        found = audit.addresses("", {"reason": reason})
        scrubbed = retention._scrub_text(reason, {board.members[0].email.lower()})
    assert found == {"lê.an@gmail.com", board.members[0].email.lower()}
    assert scrubbed.endswith(f" {retention.ANONYMOUS}, {board.members[0].email}")


def test_a_forward_to_a_bracketed_name_of_any_length_is_read() -> None:
    with within():
        command = read_command("CHUYỂN " + "<" * 300_000 + "Nam" + ">" * 300_000)
    assert not isinstance(command, Unreadable) and command.verb is Verb.FORWARD


def test_a_reply_of_thousands_of_wrapped_lines_is_joined_in_linear_time() -> None:
    """Lines a client broke are joined again; each was added to the line so far: 100,000
    took a minute."""
    with within():
        command = read_command("\n".join(["a" * 70] * 100_000))
    assert isinstance(command, Unreadable)


def test_an_html_reply_of_thousands_of_quotes_is_read() -> None:
    """Each quote was looked for from the start of the reply again: quadratic in them."""
    with within():
        text = fresh_text(None, "<div>Duyệt</div>" + "<blockquote>x</blockquote>" * 25_000)
    assert text == "Duyệt"
