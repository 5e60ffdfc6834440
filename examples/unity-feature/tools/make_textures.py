"""Generates the sample textures of examples/unity-feature (kept in the repo; rerun to remake)."""

import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, PngImagePlugin

out = str(Path(__file__).resolve().parents[1] / "Assets" / "Textures") + "/"
rng = random.Random(7)

# A photo-like ground texture: smooth value noise with grain, 700x500 (not a power of two).
w, h = 700, 500
small = Image.new("RGB", (w // 20, h // 20))
small.putdata(
    [
        (90 + rng.randint(0, 60), 70 + rng.randint(0, 50), 40 + rng.randint(0, 30))
        for _ in range((w // 20) * (h // 20))
    ]
)
ground = small.resize((w, h), Image.BICUBIC)
grain = Image.effect_noise((w, h), 18).convert("RGB")
ground = Image.blend(ground, grain, 0.12).filter(ImageFilter.SMOOTH)
info = PngImagePlugin.PngInfo()
info.add_text("Software", "Sample texture generator")
info.add_text("Comment", "Ground albedo for the Cadenza Unity example")
ground.save(out + "ground_albedo.png", pnginfo=info)

# An alpha sprite with soft edges and a few hundred colours.
s = 384
sprite = Image.new("RGBA", (s, s), (0, 0, 0, 0))
d = ImageDraw.Draw(sprite)
for r in range(150, 0, -2):
    c = int(255 * r / 150)
    d.ellipse(
        [s / 2 - r, s / 2 - r, s / 2 + r, s / 2 + r], fill=(255 - c // 2, 80 + c // 3, c, 255)
    )
d.rectangle([150, 250, 234, 330], fill=(40, 40, 60, 255))
sprite = sprite.filter(ImageFilter.GaussianBlur(1.2))
sprite.save(out + "player_sprite.png")

# Flat-colour UI art: few colours, big flat areas.
ui = Image.new("RGB", (320, 180), (30, 36, 48))
d = ImageDraw.Draw(ui)
d.rectangle([20, 20, 300, 60], fill=(220, 180, 40))
d.rectangle([20, 80, 200, 160], fill=(60, 160, 220))
d.ellipse([230, 90, 290, 150], fill=(240, 240, 240))
ui.save(out + "ui_panel.png")

# A photo-like sky as a high-quality JPEG with EXIF.
w, h = 960, 540
sky = Image.new("RGB", (w, h))
px = sky.load()
for y in range(h):
    for x in range(w):
        t = y / h
        px[x, y] = (
            int(70 + 120 * t + 20 * math.sin(x / 37.0)),
            int(130 + 80 * t),
            int(230 - 40 * t),
        )
sky = Image.blend(sky, Image.effect_noise((w, h), 12).convert("RGB"), 0.08)
exif = Image.Exif()
exif[0x010E] = "Sky gradient for the Cadenza Unity example"  # ImageDescription
exif[0x0131] = "Sample texture generator"  # Software
sky.save(out + "sky_gradient.jpg", quality=95, exif=exif)
