"""Vietnamese normalisation: legacy fonts (TCVN3, VNI), Windows-1258, NFD, charsets.

The expected values are written here independently of the module's tables: byte by byte from
TCVN 5712:1993 (VN3) for TCVN3, letter by letter for VNI, and as whole phrases typed the way
the old fonts stored them.
"""

from __future__ import annotations

import email
import email.policy
import re
import unicodedata
from pathlib import Path

import pytest

from pipeline.charsets import decode_bytes, encode_cp1258
from pipeline.vietnamese import (
    BIDI_CONTROLS,
    VIETNAMESE_LETTERS,
    convert_legacy,
    detect_and_normalize,
    detect_legacy,
    encode_legacy,
    font_encoding,
    is_uppercase_font,
    is_vietnamese_syllable,
    normalize,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEEDS = sorted((SHARED / "seeds").glob("*.txt"))
REAL_MAIL = sorted((SHARED / "corpus" / "real-mail").glob("*.eml"))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def seed_texts() -> list[str]:
    assert SEEDS, "no seed texts found"
    return [path.read_text(encoding="utf-8") for path in SEEDS]


def seed_paragraphs() -> list[str]:
    return [p.strip() for text in seed_texts() for p in text.split("\n\n") if len(p.strip()) > 80]


# --- Independent tables ---------------------------------------------------------------------------

# TCVN 5712:1993 VN3, in byte order. 0xA1-0xAE: the seven capitals, then the seven small letters.
TCVN3_A1_AE = "ĂÂÊÔƠƯĐăâêôơưđ"
# 0xB5-0xFE without the positions VN3 leaves to the VN1 capitals.
TCVN3_GAPS = {0xBA, 0xBF, 0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xCD, 0xD9, 0xDA, 0xDB, 0xE0, 0xF0}
TCVN3_B5_FE = (
    "àảãáạ" "ằẳẵắ" "ặ" "ầẩẫấậ" "è" "ẻẽéẹ" "ềểễếệ" "ìỉ" "ĩíị" "ò" "ỏõóọ"
    "ồổỗốộ" "ờởỡớợ" "ù" "ủũúụ" "ừửữứự" "ỳỷỹýỵ"
)  # fmt: skip
TCVN3_BYTES: dict[int, str] = dict(zip(range(0xA1, 0xAF), TCVN3_A1_AE, strict=True)) | dict(
    zip([b for b in range(0xB5, 0xFF) if b not in TCVN3_GAPS], TCVN3_B5_FE, strict=True)
)

# VNI for Windows: each lower-case letter as typed; capitals are the upper case of each character.
VNI_LOWER = {
    "á": "aù", "à": "aø", "ả": "aû", "ã": "aõ", "ạ": "aï",
    "â": "aâ", "ấ": "aá", "ầ": "aà", "ẩ": "aå", "ẫ": "aã", "ậ": "aä",
    "ă": "aê", "ắ": "aé", "ằ": "aè", "ẳ": "aú", "ẵ": "aü", "ặ": "aë",
    "é": "eù", "è": "eø", "ẻ": "eû", "ẽ": "eõ", "ẹ": "eï",
    "ê": "eâ", "ế": "eá", "ề": "eà", "ể": "eå", "ễ": "eã", "ệ": "eä",
    "í": "í", "ì": "ì", "ỉ": "æ", "ĩ": "ó", "ị": "ò",
    "ó": "où", "ò": "oø", "ỏ": "oû", "õ": "oõ", "ọ": "oï",
    "ô": "oâ", "ố": "oá", "ồ": "oà", "ổ": "oå", "ỗ": "oã", "ộ": "oä",
    "ơ": "ô", "ớ": "ôù", "ờ": "ôø", "ở": "ôû", "ỡ": "ôõ", "ợ": "ôï",
    "ú": "uù", "ù": "uø", "ủ": "uû", "ũ": "uõ", "ụ": "uï",
    "ư": "ö", "ứ": "öù", "ừ": "öø", "ử": "öû", "ữ": "öõ", "ự": "öï",
    "ý": "yù", "ỳ": "yø", "ỷ": "yû", "ỹ": "yõ", "ỵ": "î",
    "đ": "ñ",
}  # fmt: skip

# Phrases as the fonts stored them, next to their Unicode.
TCVN3_PHRASES = [
    ("Céng hßa x· héi chñ nghÜa ViÖt Nam", "Cộng hòa xã hội chủ nghĩa Việt Nam"),
    ("§éc lËp - Tù do - H¹nh phóc", "Độc lập - Tự do - Hạnh phúc"),
    ("Th«ng b¸o", "Thông báo"),
    ("KÝnh göi: Ban Biªn tËp Cæng th«ng tin ®iÖn tö tØnh",
     "Kính gửi: Ban Biên tập Cổng thông tin điện tử tỉnh"),
    ("Ng\xadêi d©n", "Người dân"),
    ("Uû ban nh©n d©n tØnh §ång Nai", "Uỷ ban nhân dân tỉnh Đồng Nai"),
    ("N¨m 2024, tr\xadêng häc ®· ®¹t kÕt qu¶ tèt.", "Năm 2024, trường học đã đạt kết quả tốt."),
    ("CéNG HßA X· HéI CHñ NGHÜA VIÖT NAM", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
]  # fmt: skip
VNI_PHRASES = [
    ("Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam", "Cộng hòa xã hội chủ nghĩa Việt Nam"),
    ("Ñoäc laäp - Töï do - Haïnh phuùc", "Độc lập - Tự do - Hạnh phúc"),
    ("Thoâng baùo", "Thông báo"),
    ("Kính göûi: Ban Bieân taäp Coång thoâng tin ñieän töû tænh",
     "Kính gửi: Ban Biên tập Cổng thông tin điện tử tỉnh"),
    ("Ngöôøi daân", "Người dân"),
    ("Naêm 2024, tröôøng hoïc ñaõ ñaït keát quaû toát.",
     "Năm 2024, trường học đã đạt kết quả tốt."),
    ("COÄNG HOØA XAÕ HOÄI CHUÛ NGHÓA VIEÄT NAM", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
    ("ÑIEÀU 1. Phaïm vi ñieàu chænh", "ĐIỀU 1. Phạm vi điều chỉnh"),
]  # fmt: skip

TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


to_cp1258 = encode_cp1258


# --- The tables -----------------------------------------------------------------------------------


def test_alphabet_has_the_134_letters() -> None:
    assert len(VIETNAMESE_LETTERS) == len(set(VIETNAMESE_LETTERS)) == 134
    assert set(TCVN3_BYTES.values()) | {ch.upper() for ch in TCVN3_B5_FE} == set(VIETNAMESE_LETTERS)
    assert set(VNI_LOWER) | {ch.upper() for ch in VNI_LOWER} == set(VIETNAMESE_LETTERS)


@pytest.mark.parametrize(("byte", "letter"), sorted(TCVN3_BYTES.items()))
def test_tcvn3_table_byte_by_byte(byte: int, letter: str) -> None:
    legacy = bytes([byte]).decode("cp1252")
    assert convert_legacy(legacy, "tcvn3") == letter
    assert encode_legacy(letter, "tcvn3") == legacy


def test_tcvn3_vn1_capitals_are_read() -> None:
    # TCVN 5712 tables VN1/VN2 put some capitals in the gaps VN3 leaves (0xC4 = Ấ, 0xDA = Ế).
    assert convert_legacy("C\xc4P TR\xdaN", "tcvn3") == "CẤP TRẾN"
    assert convert_legacy("C\xc4p", "tcvn3") == "CẤp"  # a capital is a capital
    assert encode_legacy("CẤP", "tcvn3") == "CÊP"  # written the VN3 way


def test_tcvn3_capitals_with_tones_use_the_lowercase_slot() -> None:
    for letter in TCVN3_B5_FE:
        assert encode_legacy(letter.upper(), "tcvn3") == encode_legacy(letter, "tcvn3")


@pytest.mark.parametrize(("letter", "typed"), sorted(VNI_LOWER.items()))
def test_vni_table_letter_by_letter(letter: str, typed: str) -> None:
    assert encode_legacy(letter, "vni") == typed
    assert encode_legacy(letter.upper(), "vni") == typed.upper()
    assert convert_legacy(typed, "vni") == letter
    assert convert_legacy(typed.upper(), "vni") == letter.upper()


def test_every_letter_round_trips() -> None:
    for letter in VIETNAMESE_LETTERS:
        assert convert_legacy(encode_legacy(letter, "vni"), "vni") == letter
        tcvn3 = encode_legacy(letter, "tcvn3")
        if letter.islower() or letter in "ĂÂÊÔƠƯĐ":
            assert convert_legacy(tcvn3, "tcvn3") == letter
        else:  # typed in .VnTimeH, or inside a word in capitals
            assert convert_legacy(tcvn3, "tcvn3") == letter.lower()  # as .VnTime draws it
            assert convert_legacy(tcvn3, "tcvn3", uppercase=True) == letter
            word = f"TH{letter}NH"
            assert convert_legacy(encode_legacy(word, "tcvn3"), "tcvn3", recover_case=True) == word
            assert normalize(encode_legacy(f"Th«ng b¸o {word}", "tcvn3")) == f"Thông báo {word}"


@pytest.mark.parametrize(("legacy", "unicode"), TCVN3_PHRASES)
def test_tcvn3_phrases_written_by_hand(legacy: str, unicode: str) -> None:
    assert convert_legacy(legacy, "tcvn3", recover_case=True) == unicode
    assert detect_legacy(legacy) == "tcvn3"
    assert normalize(legacy) == unicode
    assert encode_legacy(unicode, "tcvn3") == legacy


@pytest.mark.parametrize(("legacy", "unicode"), VNI_PHRASES)
def test_vni_phrases_written_by_hand(legacy: str, unicode: str) -> None:
    assert convert_legacy(legacy, "vni") == unicode
    assert detect_legacy(legacy) == "vni"
    assert normalize(legacy) == unicode
    assert encode_legacy(unicode, "vni") == legacy


# VNI lines whose every changed word reads as a syllable in TCVN3 too ("Thoâng" -> "Thoõng",
# "cuûa" -> "cuỷa"): only VNI merges the marks into their letters.
VNI_READ_AS_TCVN3 = [
    ("Thoâng tin cuûa Coâng ty", "Thông tin của Công ty"),
    ("Cuûa coâng thoâng tin", "Của công thông tin"),
    ("Nghò ñònh 43/2011/NÑ-CP cuûa Chính phuû", "Nghị định 43/2011/NĐ-CP của Chính phủ"),
]


@pytest.mark.parametrize(("legacy", "unicode"), VNI_READ_AS_TCVN3)
def test_vni_that_tcvn3_would_also_read(legacy: str, unicode: str) -> None:
    assert detect_legacy(legacy) == "vni"
    assert normalize(legacy) == unicode


def test_tcvn3_bytes_as_they_arrive_in_mail() -> None:
    raw = bytes([0x54, 0x68, 0xAB, 0x6E, 0x67, 0x20, 0x62, 0xB8, 0x6F])  # "Thông báo" in .VnTime
    assert normalize(decode_bytes(raw, "windows-1252")) == "Thông báo"
    assert normalize(decode_bytes(raw, None)) == "Thông báo"


# --- Whole texts ----------------------------------------------------------------------------------


def test_vni_round_trip_of_the_seed_texts() -> None:
    for text in seed_texts():
        legacy = encode_legacy(text, "vni")
        assert legacy != text
        assert detect_legacy(legacy) == "vni"
        assert normalize(legacy) == nfc(text)


TONED_CAPITALS = {ch for ch in VIETNAMESE_LETTERS if ch.isupper() and ch not in "ĂÂÊÔƠƯĐ"}


def recoverable_in_tcvn3(paragraph: str) -> bool:
    """Every capital with a tone is in a word in capitals or opens the paragraph, and the
    paragraph does not open with a small accented letter (that would be read as a capital)."""
    words = re.findall(r"\w+", paragraph)
    if not words or not (words[0][0].isascii() or words[0][0].isupper()):
        return False
    return all(
        (len(w) >= 2 and w.isupper()) or not TONED_CAPITALS.intersection(w) for w in words[1:]
    )


def test_tcvn3_round_trip_of_the_seed_texts() -> None:
    for text in seed_texts():
        legacy = encode_legacy(text, "tcvn3")
        assert detect_legacy(legacy) == "tcvn3"
        back = normalize(legacy)
        # Letters always come back; case wherever the bytes and context allow.
        assert back.lower() == nfc(text).lower()
        assert back.count("\n") == text.count("\n")
    checked = 0
    for paragraph in seed_paragraphs():
        if recoverable_in_tcvn3(paragraph):
            assert normalize(encode_legacy(paragraph, "tcvn3")) == nfc(paragraph)
            checked += 1
    assert checked >= 0.9 * len(seed_paragraphs())


def test_tcvn3_headings_in_capitals() -> None:
    text = "UBND TØNH §åNG NAI\nSë T¦ PH¸P\n\nQUY CHÕ\nTæ CHøC Vµ HO¹T §éNG CñA BAN BI£N TËP"
    assert normalize(text) == (
        "UBND TỈNH ĐỒNG NAI\nSỞ TƯ PHÁP\n\nQUY CHẾ\nTỔ CHỨC VÀ HOẠT ĐỘNG CỦA BAN BIÊN TẬP"
    )
    # A capital initial stays a capital initial in a mixed-case line...
    assert normalize("Cã thÓ Tæ chøc häp") == "Có thể Tổ chức họp"
    # ...but shouts next to a word in capitals.
    assert normalize("Ch\xad¬ng VI Tæ CHøC THùC HIÖN") == "Chương VI TỔ CHỨC THỰC HIỆN"
    assert normalize("Sè: 52/STP-VP, Th«ng b¸o") == "Số: 52/STP-VP, Thông báo"


def test_tcvn3_sentence_and_paragraph_starts() -> None:
    text = (
        "Ban Biªn tËp häp víi c¸c ®¬n vÞ\n"  # a hard-wrapped line: the next one continues it
        "ë ®Þa ph\xad¬ng vµo th¸ng 3. ý kiÕn c¸c ®¬n vÞ ®\xadîc tæng hîp...\n"
        "\n"
        "ë c¸c x·, ph\xadêng... ®Òu cã c¸n bé phô tr¸ch."
    )
    assert normalize(text) == (
        "Ban Biên tập họp với các đơn vị\n"
        "ở địa phương vào tháng 3. Ý kiến các đơn vị được tổng hợp...\n"
        "\n"
        "Ở các xã, phường... đều có cán bộ phụ trách."
    )


def test_font_known_conversion_draws_what_the_font_draws() -> None:
    # A .docx run: .VnTime draws lower case in these slots, .VnTimeH capitals.
    assert convert_legacy("ë ®©y, CéNG", "tcvn3") == "ở đây, CộNG"
    assert convert_legacy("céng hßa", "tcvn3", uppercase=True) == "CỘNG HÒA"
    assert convert_legacy("Céng hßa", "tcvn3", uppercase=True) == "CỘNG HÒA"
    # A run that starts a sentence: the capital .VnTime could not draw.
    assert convert_legacy("ñy ban, ë ®©y", "tcvn3", at_sentence_start=True) == "Ủy ban, ở đây"
    assert convert_legacy("- ë ®©y", "tcvn3", at_sentence_start=True) == "- Ở đây"
    assert convert_legacy("ë ®©y", "vni", at_sentence_start=True) == "ë ®©y"
    # Plain text, font unknown: the capitals are inferred.
    assert convert_legacy("ë ®©y, CéNG", "tcvn3", recover_case=True) == "Ở đây, CỘNG"


def test_cp1258_bytes_of_the_seed_texts() -> None:
    for text in seed_texts():
        raw = to_cp1258(text)
        assert any(b in raw for b in (0xCC, 0xD2, 0xDE, 0xEC, 0xF2))  # combining tone marks
        for label in ("windows-1258", "cp1258", "WINDOWS-1258", None, "iso-8859-1", "x-unknown"):
            decoded = decode_bytes(raw, label)
            assert decoded == nfc(text), label
            assert normalize(decoded) == nfc(text)


def test_nfd_input_becomes_nfc() -> None:
    for text in seed_texts():
        decomposed = unicodedata.normalize("NFD", text)
        assert decomposed != text
        assert normalize(decomposed) == nfc(text)
        assert decode_bytes(decomposed.encode("utf-8"), "utf-8") == nfc(text)
    assert normalize("Vie\u0302\u0323t Nam") == "Việt Nam"
    assert normalize("Vi\u00ea\u0323t Nam") == "Việt Nam"  # Windows-1258 style, half composed


def test_idempotent() -> None:
    for text in seed_texts():
        for sample in (text, encode_legacy(text, "tcvn3"), encode_legacy(text, "vni")):
            once = normalize(sample)
            assert normalize(once) == once
            assert detect_legacy(once) is None


def test_detect_and_normalize_is_both_at_once() -> None:
    texts = [t for text in seed_texts() for t in (encode_legacy(text, "tcvn3"), text)]
    texts += [
        "Th«ng b¸o\fcña UBND\r\nKÝnh göi\x0b",  # a form feed ends a line, as binary data does
        "Th«ng b¸o\x1ecña\u2028UBND",
        "Th«ng b¸o\u202e cña UBND",  # a bidi control: removed by `normalize` only
        "Hello",
        "",
    ]
    for text in texts:
        assert detect_and_normalize(text) == (detect_legacy(text), normalize(text))


def test_bidi_controls_are_removed() -> None:
    """Titles, names and plain-text bodies from mail pass here: none keeps a control that
    could make what follows read backwards."""
    assert normalize("Duyệt\u202e") == "Duyệt"
    assert normalize("Thông" + BIDI_CONTROLS + " báo") == "Thông báo"
    assert normalize(encode_legacy("Thông báo", "tcvn3") + "\u2067") == "Thông báo"


# --- Mixed text -----------------------------------------------------------------------------------

SIGNATURE = "Trân trọng,\nNguyễn Văn An\nChuyên viên Sở Tư pháp tỉnh Đồng Nai\nĐT: 0251 3822 123"


@pytest.mark.parametrize("encoding", ["tcvn3", "vni"])
def test_legacy_body_with_unicode_signature(encoding: str) -> None:
    body = "\n\n".join(p for p in seed_paragraphs()[:12] if recoverable_in_tcvn3(p))
    mail = encode_legacy(body, encoding) + "\n\n-- \n" + SIGNATURE  # type: ignore[arg-type]
    assert detect_legacy(mail) == encoding
    assert normalize(mail) == nfc(body) + "\n\n-- \n" + SIGNATURE


# Mail subjects typed in .VnTime: too short for two signs, yet every word is a syllable once
# converted, and one word holds a sign ("¶", or a capital after a small letter: "thÓ").
TCVN3_SUBJECTS = [
    ("Tin thÓ thao", "Tin thể thao"),
    ("Tin y tÕ", "Tin y tế"),
    ("Tin an ninh trËt tù", "Tin an ninh trật tự"),
    ("Phãng sù ¶nh", "Phóng sự ảnh"),
    ("Dù th¶o quy chÕ", "Dự thảo quy chế"),
    ("GIÊY MêI", "GIẤY MỜI"),
]


@pytest.mark.parametrize(("legacy", "unicode"), TCVN3_SUBJECTS)
def test_short_tcvn3_subjects(legacy: str, unicode: str) -> None:
    assert detect_legacy(legacy) == "tcvn3"
    assert normalize(legacy) == unicode
    for label in (None, "iso-8859-1", "windows-1258"):
        assert normalize(decode_bytes(legacy.encode("cp1252"), label)) == unicode, label


# Short Western lines whose words read as syllables in TCVN3 too, none with a sign.
WESTERN_SHORT = ["Dia da Mãe", "Il est tôt", "Tu as dû", "Le gîte", "Ne me dis rien à moi"]


@pytest.mark.parametrize("text", WESTERN_SHORT)
def test_short_western_lines_stay(text: str) -> None:
    assert detect_legacy(text) is None
    assert normalize(text) == text
    assert normalize(decode_bytes(text.encode("cp1252"), None)) == text


def test_fragments_of_a_legacy_document() -> None:
    # Two words without a byte that no Western word has: not enough on their own...
    assert detect_legacy("KÝnh göi:") is None
    assert normalize("KÝnh göi:") == "KÝnh göi:"
    # ...but an HTML text node of a body found to be TCVN3 is converted.
    assert normalize("KÝnh göi:", legacy="tcvn3") == "Kính gửi:"
    for unicode in ("Trân trọng,", "Xin chào", "café", "Hello"):
        assert normalize(unicode, legacy="tcvn3") == unicode
        assert normalize(unicode, legacy="vni") == unicode


def test_a_fragment_takes_the_encoding_of_its_document() -> None:
    # Alone, each of these reads as the other encoding ("Tỉng hỵp", "Nẹ-CP ... cuỷa").
    assert normalize("Tæng hîp", legacy="tcvn3") == "Tổng hợp"
    assert normalize("tin. - Tæng hîp", legacy="tcvn3") == "tin. - Tổng hợp"
    vni = "72/2013/NÑ-CP ngaøy 15/7/2013 cuûa Chính phuû"
    assert normalize(vni, legacy="vni") == "72/2013/NĐ-CP ngày 15/7/2013 của Chính phủ"


def test_unicode_body_with_one_legacy_line() -> None:
    body = "\n".join(seed_paragraphs()[:6])
    mail = body + "\nNg\xadêi göi: NguyÔn V¨n B×nh, Phã Tr\xadëng phßng\n" + SIGNATURE
    assert normalize(mail) == (
        body + "\nNgười gửi: Nguyễn Văn Bình, Phó Trưởng phòng\n" + SIGNATURE
    )


# --- No false alarms ------------------------------------------------------------------------------

NOT_LEGACY = [
    "Dear colleagues, please find attached the report for Q3. Kind regards, John.",
    "The price is £5 or 50¢ per item, © 2024 ACME®. Section § 3 applies; see also ¶ 4.",
    "Temperature 25°C ± 2°, ½ cup of sugar, 3 × 4 ÷ 2, particles of 10 µm to 50 µm.",
    "1ª vez, 2º lugar, 3ª edición.",
    'He said «hello» and left. She answered « Bonjour » and "¿qué?"',
    "Le café est très bon à Paris, où l'on déjeune tôt. Noël approche et les élèves sont "
    "contents. Il a dû partir très tôt ; c'est sûr, la fête aura lieu à l'hôtel.",
    "Garçon, apportez-moi un thé et une crème brûlée. Où êtes-vous né ? Je suis né à Lyon. "
    "L'été dernier, nous avons visité la côte d'Azur. Là-bas, à côté du château, il y a un gîte.",
    "Die Größe der Straße überrascht mich. Müssen wir wirklich so früh gehen? Für mich ist "
    "das schön. Der Bär schläft; Äpfel, Öl und Übungen kosten 5 €. Hä? Tschüß!",
    "El señor Muñoz vive en España. ¿Dónde está la estación? ¡Qué día más bonito! Mañana.",
    "Não sei se ele vai à praça amanhã. As mães e os irmãos estão em São Paulo.",
    "José Müller, François Dupont, Zoë Saldaña, Björn Ølstad, Renée Fleming, Chloë.",
    "Ông nói «Hà Nội mùa thu» là bài hát hay nhất. Giá cà phê là 50¢, rẻ hơn £1.",
    "Bà Lan đã đến Paris và ăn một chiếc bánh crêpe ở quán café gần tháp Eiffel.",
    "Xin chào các anh chị, tôi là Hà. Cám ơn!",
    "très tôt, dû",
    "Le mouvement laïc est fort.",  # one word reads as VNI ("lạc"), the others as nothing
    "Ci-gît le roi.",
    "où",
]


@pytest.mark.parametrize("text", NOT_LEGACY)
def test_no_false_positive(text: str) -> None:
    assert detect_legacy(text) is None
    assert normalize(text) == nfc(text)


def test_unicode_seed_texts_pass_through() -> None:
    for text in seed_texts():
        assert detect_legacy(text) is None
        assert normalize(text) == text
        for line in text.splitlines():
            assert detect_legacy(line) is None


def test_syllables() -> None:
    for word in ("nghiêng", "Người", "quốc", "giữa", "khuyên", "xoong", "ĐỒNG", "ý", "gì"):
        assert is_vietnamese_syllable(word), word
    for word in ("bac", "céng", "ngi", "ce", "café", "über", "thoâng", "cỏc", "oo", "ươ"):
        assert not is_vietnamese_syllable(word), word


# --- Fonts ----------------------------------------------------------------------------------------


def test_font_encoding() -> None:
    for name in (".VnTime", ".VnTimeH", ".VnArial", ".VnArial NarrowH", ".VnCentury Schoolbook"):
        assert font_encoding(name) == "tcvn3", name
    for name in ("VNI-Times", "VNI-Helve", "VNI-Aptima", "vni-times"):
        assert font_encoding(name) == "vni", name
    for other in (None, "", "Times New Roman", "Arial", "Verdana", "VnExpress Sans"):
        assert font_encoding(other) is None, other
    assert is_uppercase_font(".VnTimeH")
    assert is_uppercase_font(".VnArial NarrowH")
    assert not is_uppercase_font(".VnTime")
    assert not is_uppercase_font("VNI-Helve")
    assert not is_uppercase_font("Arial")


# --- Charsets -------------------------------------------------------------------------------------

TEXT = "Ban Biên tập Cổng thông tin điện tử tỉnh Đồng Nai thông báo: họp lúc 8 giờ."


@pytest.mark.parametrize(
    "label", ["iso-8859-1", "us-ascii", None, "", "windows-1252", "utf-8", "x-unknown", "base64"]
)
def test_utf8_whatever_the_label(label: str | None) -> None:
    assert decode_bytes(TEXT.encode("utf-8"), label) == TEXT


def test_declared_charsets_that_fit_are_honoured() -> None:
    assert decode_bytes("Grüße, café".encode("iso-8859-1"), "iso-8859-1") == "Grüße, café"
    assert decode_bytes("Grüße, café €".encode("cp1252"), None) == "Grüße, café €"
    assert decode_bytes("Привет".encode("koi8-r"), "koi8-r") == "Привет"
    assert decode_bytes("Xin chào".encode("utf-16"), "utf-16") == "Xin chào"
    assert decode_bytes(b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "iso-8859-1") == TEXT


def test_undeclared_8bit_vietnamese_is_windows_1258() -> None:
    assert decode_bytes(to_cp1258(TEXT), None) == TEXT
    assert decode_bytes(to_cp1258(TEXT), "utf-8") == TEXT  # mislabelled as UTF-8


def test_legacy_font_text_under_a_windows_1258_label() -> None:
    # Outlook set to "Vietnamese (Windows)" while the body was typed in .VnTime.
    raw = encode_legacy(TEXT, "tcvn3").encode("cp1252")
    decoded = decode_bytes(raw, "windows-1258")
    assert normalize(decoded) == TEXT


@pytest.mark.parametrize("text", ["Tin văn hóa", "Tuyên Quang, ngày 25 tháng 12 năm 2024"])
def test_windows_1258_that_also_reads_as_windows_1252(text: str) -> None:
    # "văn", "năm" are "vãn", "nãm" in Windows-1252: syllables too; the letters 1252 lacks decide.
    for label in (None, "iso-8859-1", "windows-1252"):
        assert decode_bytes(to_cp1258(text), label) == text, label
    # Portuguese reads no better as Windows-1258 ("măe"): it stays.
    assert decode_bytes("A mãe é".encode("cp1252"), None) == "A mãe é"


def test_utf8_with_a_damaged_byte() -> None:
    assert decode_bytes("Thông báo".encode() + b"\xff", "utf-8") == "Thông báo\ufffd"


def test_decode_bytes_never_raises() -> None:
    samples = [b"", b"\x00\xff\xfe", bytes(range(256)), b"\x81\x8d\x8f\x90\x9d", b"\xc3"]
    labels = [None, "", "utf-8", "utf-16", "windows-1258", "us-ascii", "x-foo", "base64",
              "unicode-escape", "rot13", "\x00", "utf-8; format=flowed",
              '  "windows-1252" ']  # fmt: skip
    for data in samples:
        for label in labels:
            text = decode_bytes(data, label)
            assert isinstance(text, str)
            assert unicodedata.is_normalized("NFC", text)
    assert decode_bytes(b"\x81\x8d", None) == "\x81\x8d"  # bytes no code page defines survive


def real_mail_text_parts() -> list[tuple[str, bytes, str | None]]:
    assert REAL_MAIL, "no real-mail corpus found"
    parts: list[tuple[str, bytes, str | None]] = []
    for path in REAL_MAIL:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if part.get_content_maintype() == "text" and isinstance(payload, bytes):
                parts.append((path.name, payload, part.get_content_charset()))
    return parts


def test_real_mail_parts() -> None:
    """Real mail (none of it Vietnamese): labels that fit are honoured, nothing is taken for
    a legacy font (not even an Outlook .msg sent as text/plain), nothing raises."""
    honoured = 0
    for name, payload, charset in real_mail_text_parts():
        text = decode_bytes(payload, charset)
        assert unicodedata.is_normalized("NFC", text)
        assert detect_legacy(text) is None, name
        assert normalize(text) == text, name
        if charset is None or (not payload.isascii() and _valid_utf8(payload)):
            continue
        codec = "cp1252" if charset.lower() in ("iso-8859-1", "us-ascii") else charset
        try:
            expected = payload.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue  # a wrong label: the bytes decide
        assert text == nfc(expected), name
        honoured += 1
    assert honoured >= 10


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_whole_raw_mails_never_raise() -> None:
    assert REAL_MAIL, "no real-mail corpus found"
    for path in REAL_MAIL:
        text = decode_bytes(path.read_bytes(), None)  # a whole raw mail, attachments and all
        assert unicodedata.is_normalized("NFC", text)
        assert unicodedata.is_normalized("NFC", normalize(text))
