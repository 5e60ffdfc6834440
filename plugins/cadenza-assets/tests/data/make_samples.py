"""Makes the tiny committed samples in this folder (rerun to remake; the noise differs each run).

tiny_exif.jpg   96x64 photo-like JPEG (quality 60) with EXIF and a comment.
sprite_text.png 32x32 RGBA sprite with two text chunks.
"""

from pathlib import Path

from PIL import Image, ImageDraw, PngImagePlugin

here = Path(__file__).parent

im = Image.merge(
    "RGB",
    [
        Image.linear_gradient("L").resize((96, 64)),
        Image.effect_noise((96, 64), 40),
        Image.radial_gradient("L").resize((96, 64)),
    ],
)
d = ImageDraw.Draw(im)
d.ellipse([10, 8, 40, 38], fill=(200, 120, 40))
exif = Image.Exif()
exif[0x010F] = "Cadenza test camera"
exif[0x010E] = "A sample texture with metadata that a game build does not need. " * 4
im.save(here / "tiny_exif.jpg", quality=60, exif=exif.tobytes(), comment=b"made for tests")

sprite = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
d = ImageDraw.Draw(sprite)
for r in range(14, 0, -1):
    d.ellipse([16 - r, 16 - r, 16 + r, 16 + r], fill=(255 - r * 9, 60 + r * 8, r * 18, 255 - r * 4))
info = PngImagePlugin.PngInfo()
info.add_text("Software", "Cadenza sample generator")
info.add_text("Comment", "Sprite used by the cadenza-assets tests. " * 6)
sprite.save(here / "sprite_text.png", pnginfo=info, optimize=True)
