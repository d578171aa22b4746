"""A photo an agency mails from a phone is published without where it was taken, whose
camera took it, or what was cropped out, and shows exactly as it was mailed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from pipeline.imagemeta import ORIENTATION, Unreadable, as_published, for_portal

# An iPhone-like HEIC (160×96, held turned: shown 96×160) with the phone's EXIF and an
# sRGB profile, made once with pillow-heif's encoder (the project needs only a decoder).
HEIC = Path(__file__).parent / "data" / "phone-photo.heic"

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
MAKE, MODEL, ARTIST = 0x010F, 0x0110, 0x013B
OWNER, BODY_SERIAL = 0xA430, 0xA431
# What a phone writes and a portal must not publish: the owner, the serial, the place.
SECRETS = (b"Nguyen Van Hung", b"R5CW21ABCDE", b"SM-A546E", b"Hoa Binh Ward")
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
    b' photoshop:City="Hoa Binh Ward"/></rdf:RDF></x:xmpmeta>'
)
MOTION_VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x11" * 4000


def picture(size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A picture with detail in every block (flat colour would hide a decoding error)."""
    width, height = size
    pixels = bytes(
        (x * 7 + y * 13 + c * 50) % 256
        for y in range(height)
        for x in range(width)
        for c in range(3)
    )
    return Image.frombytes("RGB", size, pixels)


def phone_exif(turn: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[ARTIST] = "samsung", "SM-A546E", "Nguyen Van Hung"
    exif[ORIENTATION] = turn
    exif.get_ifd(EXIF_IFD).update({OWNER: "Nguyen Van Hung", BODY_SERIAL: "R5CW21ABCDE"})
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (10.0, 57.0, 12.5), 3: "E", 4: (106.0, 49.0, 3.2)})
    return exif


def srgb() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_nothing_but_the_picture(original: bytes, published: bytes, turn: int) -> None:
    before, after = opened(original), opened(published)
    assert after.tobytes() == before.tobytes(), "the picture is not what was mailed"
    assert (after.size, after.mode) == (before.size, before.mode)
    exif = after.getexif()
    assert dict(exif) == ({ORIENTATION: turn} if turn != 1 else {})
    assert not exif.get_ifd(GPS_IFD) and not exif.get_ifd(EXIF_IFD)
    for secret in SECRETS:
        assert secret not in published, secret
    assert after.info.get("icc_profile") == before.info.get("icc_profile")


def test_a_phone_photo_loses_its_place_camera_and_owner_and_keeps_its_pixels() -> None:
    original = saved(
        picture(),
        "JPEG",
        quality=90,
        exif=phone_exif(),
        icc_profile=srgb(),
        xmp=XMP,
        comment=b"Hoa Binh Ward",
    )
    assert all(secret in original for secret in SECRETS)
    published = for_portal(original + MOTION_VIDEO)  # a motion photo: a video follows it
    assert_nothing_but_the_picture(original, published, turn=6)
    assert "xmp" not in opened(published).info and "comment" not in opened(published).info
    assert b"ftypmp42" not in published and published.endswith(b"\xff\xd9")
    assert len(published) < len(original)


def test_a_progressive_photo_with_restart_markers_decodes_the_same() -> None:
    original = saved(
        picture((200, 120)),
        "JPEG",
        progressive=True,
        restart_marker_blocks=3,
        exif=phone_exif(turn=3),
        quality=75,
    )
    assert_nothing_but_the_picture(original, for_portal(original), turn=3)


def test_the_second_picture_of_a_multi_picture_file_is_not_published() -> None:
    """Phones store a depth map or the uncropped original as MPF's second picture."""
    uncropped = picture((96, 64)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    original = saved(picture(), "MPO", save_all=True, append_images=[uncropped], exif=phone_exif(1))
    published = for_portal(original)
    assert getattr(opened(original), "n_frames", 1) == 2
    assert getattr(opened(published), "n_frames", 1) == 1 and b"MPF\x00" not in published
    assert_nothing_but_the_picture(original, published, turn=1)


def test_an_upright_photo_keeps_no_exif_at_all() -> None:
    original = saved(picture(), "JPEG", exif=phone_exif(turn=1))
    published = for_portal(original)
    assert b"Exif\x00\x00" not in published
    assert_nothing_but_the_picture(original, published, turn=1)


def test_a_screenshot_png_loses_its_text_and_exif_and_stays_lossless() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Nguyen Van Hung")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    original = saved(picture(), "PNG", pnginfo=info, exif=phone_exif(turn=8), icc_profile=srgb())
    published = for_portal(original)
    assert_nothing_but_the_picture(original, published, turn=8)
    assert not opened(published).text  # type: ignore[attr-defined]


def test_a_webp_loses_its_exif_and_xmp_and_says_so_in_its_header() -> None:
    original = saved(picture(), "WEBP", lossless=True, exif=phone_exif(turn=6), xmp=XMP)
    published = for_portal(original)
    assert_nothing_but_the_picture(original, published, turn=6)
    assert "xmp" not in opened(published).info
    flags = published[20]  # VP8X: what chunks follow
    assert flags & 0x08 and not flags & 0x04, "EXIF (the orientation) yes, XMP no"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",  # a document: not a picture
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"",
    ],
)
def test_files_that_are_not_jpeg_png_or_webp_pass_unchanged(data: bytes) -> None:
    assert for_portal(data) == data


def test_a_broken_or_cut_photo_is_published_without_its_metadata_and_no_error() -> None:
    original = saved(picture(), "JPEG", exif=phone_exif())
    for cut in (4, 30, len(original) // 2, len(original) - 1):
        published = for_portal(original[:cut])
        for secret in SECRETS:
            assert secret not in published
    junk = b"\xff\xd8\xff\xe1\xff\xff" + b"\xff\x00" * 50 + b"\x00\xff"  # lengths past the end
    assert for_portal(junk).startswith(b"\xff\xd8")
    png = saved(picture(), "PNG", exif=phone_exif())
    assert b"R5CW21ABCDE" not in for_portal(png[: len(png) // 2] + b"\xff" * 9)


def test_a_heic_photo_becomes_an_upright_jpeg_without_its_metadata() -> None:
    heic = HEIC.read_bytes()
    assert b"R5CW21ABCDE" in heic
    name, kind, data = as_published("IMG_0412.HEIC", "application/octet-stream", heic)
    assert (name, kind) == ("IMG_0412.jpg", "image/jpeg")
    shown = opened(data)
    assert (shown.format, shown.size, shown.mode) == ("JPEG", (96, 160), "RGB")
    assert not shown.getexif() and shown.info.get("icc_profile") == opened(heic).info.get(
        "icc_profile"
    )
    assert all(secret not in data for secret in SECRETS)
    pixels = zip(shown.tobytes(), opened(heic).tobytes(), strict=True)
    # JPEG at 90 on a sawtooth in every block: about 12 levels of 255 apart on average
    assert sum(abs(a - b) for a, b in pixels) / (96 * 160 * 3) < 16, "the HEIC's picture"


@pytest.mark.parametrize(
    ("name", "kind", "published"),
    [
        ("IMG_0412.heic", "image/heic", "IMG_0412.jpg"),
        ("anh.hif", "application/octet-stream", "anh.jpg"),
        ("anh-hien-truong", "image/heif", "anh-hien-truong.jpg"),
        ("bao-cao.heic.pdf", "application/pdf", "bao-cao.heic.pdf"),
    ],
)
def test_a_heic_name_is_known_without_its_bytes(name: str, kind: str, published: str) -> None:
    """Verification compares the names a portal holds, reading no file from the store."""
    assert as_published(name, kind, None)[0] == published


def test_a_heic_that_cannot_be_read_says_which_file() -> None:
    with pytest.raises(Unreadable, match="IMG_0413.heic"):
        as_published("IMG_0413.heic", "image/heic", HEIC.read_bytes()[:600])
