"""Unit tests of the HTML safelist and the text helpers in ``pipeline.sanitize``."""

from __future__ import annotations

import email
import email.policy
import json
import unicodedata
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup, Tag

from pipeline.sanitize import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    LINK_REL,
    SanitizedHtml,
    html_to_text,
    sanitize_html,
    text_to_html,
    web_url,
    with_destinations,
)
from pipeline.vietnamese import BIDI_CONTROLS

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
XSS_VECTORS: list[str] = [
    str(v["payload"])
    for v in json.loads((CORPUS / "xss" / "dompurify-vectors.json").read_text(encoding="utf-8"))
]


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def _tags(html: str) -> list[Tag]:
    return list(_soup(html).find_all(True))


ARTICLE = """
<h1>Thông báo tuyển dụng</h1>
<h2>Phần I</h2><h3>Mục 1</h3><h4>a</h4><h5>b</h5><h6>c</h6>
<p>Căn cứ <strong>Luật</strong> <b>số</b> <em>12</em>/<i>2024</i>, <u>gạch</u> <s>xóa</s>,
H<sub>2</sub>O, m<sup>2</sup>.<br>Dòng mới.</p>
<blockquote>Trích dẫn</blockquote>
<ul><li>Một</li><li>Hai</li></ul>
<ol start="3"><li>Ba</li></ol>
<table>
  <caption>Bảng 1</caption>
  <colgroup><col span="2"></colgroup>
  <thead><tr><th colspan="2" scope="col">Tiêu đề</th></tr></thead>
  <tbody><tr><td rowspan="2">A</td><td>B</td></tr><tr><td>C</td></tr></tbody>
  <tfoot><tr><td colspan="2">Tổng</td></tr></tfoot>
</table>
<p><a href="https://example.gov.vn/van-ban" title="Văn bản">văn bản</a>
<a href="mailto:bbt@example.gov.vn">thư</a> <a href="tel:+84241234567">gọi</a></p>
<figure><img src="cid:anh1@example.gov.vn" alt="Ảnh" title="Ảnh hội nghị" width="640"
  height="480"><figcaption>Hội nghị tổng kết</figcaption></figure>
<hr><pre><code>mã nguồn</code></pre><div><span>khối</span></div>
"""


class TestSafelist:
    def test_article_markup_survives(self) -> None:
        result = sanitize_html(ARTICLE)
        names = {tag.name for tag in _tags(result.html)}
        expected = {
            "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "strong", "b", "em", "i", "u",
            "s", "sub", "sup", "blockquote", "ul", "ol", "li", "table", "caption",
            "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td", "a", "img",
            "figure", "figcaption", "hr", "pre", "code", "div",
        }  # fmt: skip
        assert expected <= names
        assert "<div>khối</div>" in result.html  # attribute-less spans are unwrapped
        soup = _soup(result.html)
        assert soup.find("th", attrs={"colspan": "2", "scope": "col"}) is not None
        assert soup.find("td", attrs={"rowspan": "2"}) is not None
        assert soup.find("col", attrs={"span": "2"}) is not None
        assert soup.find("ol", attrs={"start": "3"}) is not None
        assert soup.find("figcaption").get_text() == "Hội nghị tổng kết"  # type: ignore[union-attr]
        assert "Thông báo tuyển dụng" in result.html

    def test_links_keep_href_and_get_rel(self) -> None:
        result = sanitize_html(ARTICLE)
        links = _soup(result.html).find_all("a")
        hrefs = [a["href"] for a in links]
        assert hrefs == [
            "https://example.gov.vn/van-ban",
            "mailto:bbt@example.gov.vn",
            "tel:+84241234567",
        ]
        assert all(a["rel"] == LINK_REL.split() for a in links)
        assert links[0]["title"] == "Văn bản"

    def test_link_rel_from_mail_is_replaced(self) -> None:
        html = sanitize_html('<a href="https://x.vn" rel="opener" target="_blank">x</a>').html
        link = _soup(html).a
        assert link is not None
        assert link["rel"] == LINK_REL.split()
        assert link.get("target") is None

    def test_cid_images_kept_and_listed(self) -> None:
        result = sanitize_html(
            '<img src="cid:anh1@example.gov.vn" alt="Ảnh" width="640" height="480">'
            '<img src="CID:%3Canh2@x%3E"><img src="cid:anh1@example.gov.vn">'
        )
        imgs = _soup(result.html).find_all("img")
        assert [img["src"] for img in imgs] == [
            "cid:anh1@example.gov.vn",
            "CID:%3Canh2@x%3E",
            "cid:anh1@example.gov.vn",
        ]
        assert imgs[0]["alt"] == "Ảnh"
        assert (imgs[0]["width"], imgs[0]["height"]) == ("640", "480")
        assert result.cid_refs == ("anh1@example.gov.vn", "anh2@x")
        assert result.remote_images == ()

    def test_cid_is_only_for_images(self) -> None:
        html = sanitize_html('<a href="cid:part1@x">tệp</a>').html
        assert "cid:" not in html
        assert "tệp" in html

    def test_remote_images_removed_and_listed(self) -> None:
        result = sanitize_html(
            '<p>Trước<img src="https://tracker.example/p.gif" alt="Biểu  đồ">'
            '<img src="http://tracker.example/pixel.png">'
            '<img src="//cdn.example/x.png" alt="">Sau</p>'
        )
        assert result.html == "<p>Trước[Biểu đồ]Sau</p>"
        assert result.remote_images == (
            "https://tracker.example/p.gif",
            "http://tracker.example/pixel.png",
            "https://cdn.example/x.png",
        )
        assert result.cid_refs == ()

    @pytest.mark.parametrize(
        "src",
        [
            "data:image/png;base64,iVBORw0KGgo=",
            "data:image/svg+xml,<svg onload=alert(1)>",
            "javascript:alert(1)",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
            "x.png",
            "",
        ],
    )
    def test_non_cid_non_remote_images_removed(self, src: str) -> None:
        result = sanitize_html(f'<p>a<img src="{src}">b</p>')
        assert result.html == "<p>ab</p>"
        assert result.remote_images == ()
        assert result.cid_refs == ()

    @pytest.mark.parametrize(
        "href",
        [
            "javascript:alert(1)",
            " JaVaScRiPt:alert(1)",
            "java\tscript:alert(1)",
            "&#106;avascript:alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html,<script>alert(1)</script>",
            "/relative/path",
            "#top",
        ],
    )
    def test_dangerous_and_relative_hrefs_removed(self, href: str) -> None:
        html = sanitize_html(f'<p><a href="{href}">liên kết</a></p>').html
        assert html == "<p>liên kết</p>"

    def test_style_class_id_name_and_handlers_dropped(self) -> None:
        html = sanitize_html(
            '<p id="a" name="b" class="MsoNormal" style="color:red" lang="vi" dir="ltr" '
            'onclick="alert(1)" data-x="1">chữ <span style="x" class="c" '
            'onmouseover="alert(1)">đậm</span></p>'
        ).html
        assert html == "<p>chữ đậm</p>"

    @pytest.mark.parametrize(
        ("markup", "kept_text"),
        [
            ("<script>alert(1)</script>", ""),
            ("<style>p{color:red}</style>", ""),
            ('<iframe src="https://x.vn"></iframe>', ""),
            ('<object data="x.swf"></object>', ""),
            ('<embed src="x.swf">', ""),
            ("<svg><script>alert(1)</script><text>s</text></svg>", ""),
            ("<math><mi>x</mi></math>", ""),
            ('<base href="https://evil.example/">', ""),
            ('<meta http-equiv="refresh" content="0;url=https://evil.example">', ""),
            ('<link rel="stylesheet" href="https://evil.example/x.css">', ""),
            (
                '<form action="https://evil.example"><input name="q"><button>Gửi</button></form>',
                "Gửi",
            ),
            ("<textarea>nhập</textarea>", ""),
            ("<template><p>t</p></template>", ""),
        ],
    )
    def test_dangerous_elements_removed(self, markup: str, kept_text: str) -> None:
        html = sanitize_html(f"<p>x</p>{markup}").html
        assert html == f"<p>x</p>{kept_text}"

    def test_size_attributes_must_be_plain_numbers(self) -> None:
        html = sanitize_html(
            '<img src="cid:a" width="expression(alert(1))" height="50%">'
            '<table><tr><td colspan="0" rowspan="x">a</td><td colspan="3">b</td></tr></table>'
        ).html
        img = _soup(html).img
        assert img is not None
        assert img.get("width") is None
        assert img["height"] == "50%"
        cells = _soup(html).find_all("td")
        assert cells[0].attrs == {}
        assert cells[1].attrs == {"colspan": "3"}

    def test_xss_corpus_output_stays_inside_the_safelist(self) -> None:
        for payload in XSS_VECTORS:
            result = sanitize_html(payload)
            for tag in _tags(result.html):
                assert tag.name in ALLOWED_TAGS, (payload, result.html)
                allowed = ALLOWED_ATTRIBUTES.get(tag.name, set()) | (
                    {"rel"} if tag.name == "a" else set()
                )
                assert set(tag.attrs) <= allowed, (payload, result.html)
                if tag.name == "a" and tag.get("href"):
                    assert str(tag["href"]).startswith(("http:", "https:", "mailto:", "tel:"))
                if tag.name == "img":
                    assert str(tag["src"]).lower().startswith("cid:"), (payload, result.html)


OUTLOOK_MAIL = """<html xmlns:v="urn:schemas-microsoft-com:vml"
xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word">
<head><meta http-equiv=Content-Type content="text/html; charset=utf-8">
<meta name=Generator content="Microsoft Word 15 (filtered medium)">
<!--[if !mso]><style>v\\:* {behavior:url(#default#VML);}</style><![endif]-->
<style><!-- p.MsoNormal {margin:0cm; font-family:"Calibri",sans-serif;} --></style>
<!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" />
<w:WordDocument>Normal 0 false false false VI</w:WordDocument></xml><![endif]-->
</head>
<body lang=VI link="#0563C1" vlink="#954F72" style='word-wrap:break-word'>
<div class=WordSection1>
<p class=MsoNormal><span style='font-size:13.0pt'>Kính gửi Ban Biên tập,<o:p></o:p></span></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoListParagraph style='mso-list:l0 level1 lfo1'><![if !supportLists]><span
style='mso-list:Ignore'>1.<span style='font:7.0pt "Times New Roman"'>&nbsp;&nbsp; </span>
</span><![endif]>Bài viết về hội nghị<o:p></o:p></p>
<!--[if gte vml 1]><v:shape id="Picture_x0020_1" style='width:100pt'>
<v:imagedata src="file:///C:/Users/x/AppData/image001.png" o:title=""/></v:shape><![endif]-->
<![if !vml]><img width=200 height=100 src="cid:image001.png@01DA1234.56789ABC"
v:shapes="Picture_x0020_1"><![endif]>
<p class=MsoNormal>Trân trọng.<o:p></o:p></p>
</div></body></html>"""


class TestOutlook:
    def test_word_junk_is_stripped(self) -> None:
        result = sanitize_html(OUTLOOK_MAIL)
        for junk in ("Mso", "mso-", "o:p", "<!--", "[if", "xml", "Normal 0", "v:", "class=",
                     "style=", "lang=", "behavior", "Calibri", "file:"):  # fmt: skip
            assert junk not in result.html, junk
        assert "<p>Kính gửi Ban Biên tập,</p>" in result.html
        assert "Bài viết về hội nghị" in result.html
        assert "Trân trọng." in result.html
        assert result.cid_refs == ("image001.png@01DA1234.56789ABC",)

    def test_empty_spacer_paragraphs_removed(self) -> None:
        result = sanitize_html(OUTLOOK_MAIL)
        for para in _soup(result.html).find_all("p"):
            assert para.get_text().replace("\xa0", " ").strip()

    def test_outlook_text_is_readable(self) -> None:
        text = html_to_text(sanitize_html(OUTLOOK_MAIL).html)
        lines = [line for line in text.split("\n") if line]
        assert lines[0] == "Kính gửi Ban Biên tập,"
        assert lines[-1] == "Trân trọng."
        assert "1. Bài viết về hội nghị" in text


class TestTextToHtml:
    def test_escapes_markup(self) -> None:
        html = text_to_html('Xin chào <script>alert("x")</script> & <b>đậm</b>')
        assert "<script" not in html
        assert "<b>" not in html
        assert "&lt;script&gt;" in html
        assert "&amp;" in html
        assert _soup(html).get_text() == 'Xin chào <script>alert("x")</script> & <b>đậm</b>'

    def test_paragraphs_and_line_breaks(self) -> None:
        html = text_to_html("Dòng một\r\nDòng hai\r\n\r\n\r\nĐoạn hai\n")
        assert html == "<p>Dòng một<br>Dòng hai</p>\n<p>Đoạn hai</p>"

    def test_http_urls_are_linked_other_schemes_not(self) -> None:
        html = text_to_html(
            "Xem https://example.gov.vn/a?b=1&c=2. Không: javascript:alert(1) hay "
            "data:text/html,x (http://example.vn/(chú-thích))"
        )
        links = _soup(html).find_all("a")
        assert [a["href"] for a in links] == [
            "https://example.gov.vn/a?b=1&c=2",
            "http://example.vn/(chú-thích)",
        ]
        assert all(a["rel"] == LINK_REL.split() for a in links)
        assert "javascript:alert(1)" in _soup(html).get_text()

    def test_quote_in_url_cannot_break_out(self) -> None:
        html = text_to_html('http://x.vn/"onmouseover="alert(1)')
        link = _soup(html).a
        assert link is not None
        assert link["href"] == "http://x.vn/"
        assert link.attrs.keys() == {"href", "rel"}

    def test_output_is_already_sanitised(self) -> None:
        html = text_to_html("Một\n\nhai https://x.vn/ và <i>ba</i>")
        assert sanitize_html(html).html == html

    def test_empty_text(self) -> None:
        assert text_to_html("") == ""
        assert text_to_html(" \n\n \n") == ""


class TestHtmlToText:
    def test_paragraphs_breaks_and_lists(self) -> None:
        text = html_to_text(
            "<h1>Tiêu đề</h1><p>Đoạn   một\n tiếp</p><p>Dòng 1<br>Dòng 2</p>"
            "<ul><li>Mục một</li><li>Mục hai</li></ul><p>Kết.</p>"
        )
        assert text == (
            "Tiêu đề\n\nĐoạn một tiếp\n\nDòng 1\nDòng 2\n\n- Mục một\n- Mục hai\n\nKết."
        )

    def test_vietnamese_diacritics_kept_and_nfc(self) -> None:
        decomposed = unicodedata.normalize("NFD", "Nghị định về phòng, chống tham nhũng")
        text = html_to_text(f"<p>{decomposed}</p><p>Ủy ban nhân dân tỉnh Quảng Ngãi</p>")
        assert text == "Nghị định về phòng, chống tham nhũng\n\nỦy ban nhân dân tỉnh Quảng Ngãi"
        assert unicodedata.is_normalized("NFC", text)

    def test_tables_entities_and_invisible_content(self) -> None:
        text = html_to_text(
            "<style>p{}</style><script>var a=1</script><!-- ghi chú -->"
            "<table>\n  <caption>Danh sách</caption>\n"
            "  <tr>\n    <th>Họ tên</th> <th>Chức vụ</th>\n"
            "  </tr>\n  <tr><td> Nguyễn&nbsp;Văn A </td><td>Trưởng ban &amp; biên tập</td></tr>\n"
            "</table><p>Hết</p>"
        )
        assert text == ("Danh sách\nHọ tên\tChức vụ\nNguyễn Văn A\tTrưởng ban & biên tập\n\nHết")

    def test_html_nested_thousands_deep_is_read_whole(self) -> None:
        """Old mailers open a <font> per word and never close one."""
        words = [f"chữ{n}" for n in range(5000)]
        text = html_to_text("<p>" + " ".join(f'<font color="#000">{w}' for w in words))
        assert text.split() == words

    def test_round_trip_with_text_to_html(self) -> None:
        original = "Kính gửi Ban Biên tập,\nXin gửi bài.\n\nTrân trọng,\nPhòng Văn hóa"
        assert html_to_text(text_to_html(original)) == original


IDEMPOTENCE_SAMPLES = [
    ARTICLE,
    OUTLOOK_MAIL,
    "<p>a<img src=https://x.vn/a.png alt=b>c</p>",
    "<table><tr><td>\n<img src=https://x.vn/a.png>\n</td></tr></table>",
    "<p>Một <b>hai <i>ba</p> bốn</b> năm",
    "<ul><li>a<li>b</ul><p><div>lồng</div></p>",
    "<pre>  thụt\n\n   lề  </pre>",
    "&lt;script&gt; &amp;amp; &nbsp;",
]


def _real_mail_html() -> list[str]:
    bodies: list[str] = []
    for path in sorted((CORPUS / "real-mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        for part in message.walk():
            if part.get_content_type() != "text/html":
                continue
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                charset = part.get_content_charset() or "utf-8"
                try:
                    bodies.append(payload.decode(charset, errors="replace"))
                except LookupError:
                    bodies.append(payload.decode("utf-8", errors="replace"))
    return bodies


class TestIdempotence:
    @pytest.mark.parametrize("html", IDEMPOTENCE_SAMPLES)
    def test_samples(self, html: str) -> None:
        once = sanitize_html(html)
        twice = sanitize_html(once.html)
        assert twice.html == once.html
        assert twice.cid_refs == once.cid_refs
        assert twice.remote_images == ()

    def test_xss_corpus(self) -> None:
        assert len(XSS_VECTORS) == 223
        for payload in XSS_VECTORS:
            once = sanitize_html(payload).html
            assert sanitize_html(once).html == once, payload

    def test_real_mail_corpus(self) -> None:
        bodies = _real_mail_html()
        assert bodies  # the corpus holds HTML mails
        for body in bodies:
            once = sanitize_html(body)
            assert isinstance(once, SanitizedHtml)
            assert sanitize_html(once.html).html == once.html


def _labelled(html: str) -> str:
    """What a reviewer reads of an article: the links' text and labels, tags dropped."""
    return " ".join(_soup(with_destinations(sanitize_html(html).html)).get_text(" ").split())


class TestLinkDestinations:
    @pytest.mark.parametrize(
        "href",
        [
            "https:///evil.example/duyet",
            "https:\\\\evil.example\\duyet",
            "https:evil.example/duyet",
            "HTTPS:/\\evil.example/duyet",
            "//evil.example\\@dongnai.gov.vn/duyet",
            "https://evil\u3002example/duyet",
            "https://ev\u00adil.example/duyet",
        ],
    )
    def test_a_host_browsers_read_otherwise_than_python_is_named(self, href: str) -> None:
        """Browsers open evil.example for each; Python's urlsplit sees no host or another."""
        html = sanitize_html(f'<p><a href="{href}">Duyệt</a></p>').html
        link = _soup(html).a
        assert link is not None
        assert str(link["href"]).startswith("https://evil.example/")
        assert urlsplit(str(link["href"])).hostname == "evil.example"  # Python reads it alike
        assert _labelled(html) == "Duyệt [evil.example]"

    @pytest.mark.parametrize(
        "href",
        [
            "https://dongnai.gov.vn@evil.example/",  # user info
            "https://evil%2Eexample/",  # percent-encoded host
            "https://0x7f.1/",  # IPv4 in hex: browsers open 127.0.0.1
            "https://127.1/",
            "https://[::1]/",
            "https://a.vn\uff0fb/",  # a full-width slash in the host
            "https:///",
            "https://a.vn:99999/",
        ],
    )
    def test_a_link_whose_host_is_not_plain_is_dropped(self, href: str) -> None:
        assert sanitize_html(f'<p><a href="{href}">Duyệt</a></p>').html == "<p>Duyệt</p>"

    @pytest.mark.parametrize(
        ("href", "expected"),
        [
            ("https://dongnai.gov.vn/tin?a=1#b", "https://dongnai.gov.vn/tin?a=1#b"),
            ("HTTP://DongNai.gov.vn:8080", "http://dongnai.gov.vn:8080"),
            ("https://Duyệt.example/d", "https://xn--duyt-nw5a.example/d"),
            ("https://10.0.0.1/x", "https://10.0.0.1/x"),
            ("https://a.vn/x?q=\\y", "https://a.vn/x?q=\\y"),
            ("https://a.vn./", "https://a.vn./"),
            ("mailto:a@b.vn", None),
        ],
    )
    def test_web_url_is_read_alike(self, href: str, expected: str | None) -> None:
        assert web_url(href) == expected
        if expected is not None:
            assert web_url(expected) == expected

    def test_a_stored_body_is_put_in_that_form_when_shown(self) -> None:
        """A body sanitised before the sanitiser rewrote hrefs is still shown right."""
        stored = (
            '<p><a href="https:\\\\evil.example\\x">Duyệt</a> <a href="https://a@b.vn">x</a></p>'
        )
        shown = with_destinations(stored)
        assert shown == '<p><a href="https://evil.example/x">Duyệt</a> [evil.example] x</p>'

    @pytest.mark.parametrize(
        ("href", "label"),
        [
            ("mailto:?to=x@evil.example", "[x@evil.example]"),
            ("mailto:a@b.vn?CC=x@evil.example&subject=Duy%E1%BB%87t", "[a@b.vn, x@evil.example]"),
            ("mailto:?bcc=x%40evil.example", "[x@evil.example]"),
        ],
    )
    def test_every_recipient_of_a_mailto_link_is_named(self, href: str, label: str) -> None:
        assert _labelled(f'<a href="{href}">Duyệt</a>') == f"Duyệt {label}"

    @pytest.mark.parametrize("control", ["\u202e", "&#x202E;", "&#8295;", "\u200f", "\u061c"])
    def test_bidi_controls_are_removed_from_text_and_attributes(self, control: str) -> None:
        html = (
            f'<p title="a{control}b">Tin{control} bài</p>'
            f'<a href="https://a.vn/{control}" title="t{control}">x{control}</a>'
            f'<img src="cid:anh{control}@x" alt="ảnh{control}">'
        )
        clean = sanitize_html(html).html
        assert not set(clean) & set(BIDI_CONTROLS)
        assert sanitize_html(clean).html == clean
        assert not set(text_to_html(f"Tin{control} bài https://a.vn/{control}")) & set(
            BIDI_CONTROLS
        )

    def test_a_bidi_override_cannot_reverse_the_label(self) -> None:
        """Shown, "Duyệt\u202e [nv.vog.iangnod.ac]" reads "Duyệt [ca.dongnai.gov.vn]"."""
        html = '<a href="https://nv.vog.iangnod.ac/">Duyệt\u202e</a>'
        assert _labelled(html) == "Duyệt [nv.vog.iangnod.ac]"
        # a body stored before bidi controls were removed, and a mailto: address
        stored = f'{html} <a href="mailto:%E2%80%AEmoc.live@a.vn">thư</a>'
        assert not set(with_destinations(stored)) & set(BIDI_CONTROLS)

    def test_a_host_hidden_in_the_link_text_does_not_name_it(self) -> None:
        """Twenty nested <sub><sup> draw "evil.example" at 0.01 px after «Duyệt»."""
        hidden = "<sub><sup>" * 20 + "evil.example" + "</sup></sub>" * 20
        html = f'<a href="https://evil.example/x">Duyệt{hidden}</a>'
        assert _labelled(html) == "Duyệt evil.example [evil.example]"

    @pytest.mark.parametrize(
        ("link", "label"),
        [
            ('<a href="https://dongnai.gov.vn/x">dongnai.gov.vn/x</a>', ""),
            ('<a href="https://dongnai.gov.vn">https://dongnai.gov.vn</a>', ""),
            ('<a href="https://dongnai.gov.vn/"> DongNai.gov.vn:443/ </a>', ""),
            ('<a href="mailto:bbt@dongnai.gov.vn">bbt@dongnai.gov.vn</a>', ""),
            ('<a href="https://dongnai.gov.vn/x">Xem tại dongnai.gov.vn</a>', " [dongnai.gov.vn]"),
            (
                '<a href="https://dongnai.gov.vn.evil.example">dongnai.gov.vn</a>',
                " [dongnai.gov.vn.evil.example]",
            ),
            ('<a href="https://evil.example">user@evil.example</a>', " [evil.example]"),
            ('<a href="mailto:x@evil.example">Gửi x@evil.example</a>', " [x@evil.example]"),
            # a look-alike host written in Cyrillic «о»: the label shows its ASCII form
            (
                '<a href="https://d\u043engnai.gov.vn">d\u043engnai.gov.vn</a>',
                " [xn--dngnai-wqf.gov.vn]",
            ),
        ],
    )
    def test_only_a_text_that_is_the_destination_goes_unlabelled(
        self, link: str, label: str
    ) -> None:
        text = _soup(link).get_text().strip()
        assert _labelled(link) == f"{text}{label}"
