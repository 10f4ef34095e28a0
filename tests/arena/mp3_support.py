"""An MP3 reader of the tests' own (not the app's): the ID3v2 tag in front, then every MPEG audio frame header.

It reads what a script before the vote could read from a delivery file, so the blindness tests can check it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

BITRATES_KBPS = {  # MPEG-1 Layer III, by bitrate index
    1: 32, 2: 40, 3: 48, 4: 56, 5: 64, 6: 80, 7: 96, 8: 112, 9: 128, 10: 160, 11: 192, 12: 224, 13: 256, 14: 320,
}
SAMPLE_RATES = {0: 44100, 1: 48000, 2: 32000}  # MPEG-1
VBR_TAGS = (b"Xing", b"Info", b"VBRI")


@dataclass(frozen=True)
class FrameHeader:
    offset: int
    version: int  # 3 is MPEG-1
    layer: int  # 1 is Layer III
    bitrate_kbps: int
    sample_rate: int
    padding: bool
    private: bool
    mode: int  # 0 stereo, 1 joint stereo, 2 dual channel, 3 mono
    size: int
    vbr_tag: bytes  # Xing/Info (at the side information's end) or VBRI (at 32 bytes), or b""

    @property
    def channels(self) -> int:
        return 1 if self.mode == 3 else 2


@dataclass
class Mp3Layout:
    id3_bytes: int = 0  # the whole ID3v2 tag in front, its 10-byte header included
    id3_body: bytes = b""
    frames: list[FrameHeader] = field(default_factory=list)
    trailing: bytes = b""  # whatever follows the last whole frame (an ID3v1 tag, junk, a cut frame)

    @property
    def audio_bytes(self) -> int:
        return sum(frame.size for frame in self.frames)


def mp3_layout(data: bytes) -> Mp3Layout:
    """The tag and frames of an MPEG-1 Layer III file; raises ValueError at anything else."""
    layout = Mp3Layout()
    position = 0
    if data[:3] == b"ID3":
        size = 0
        for byte in data[6:10]:
            size = (size << 7) | (byte & 0x7F)
        layout.id3_bytes = 10 + size
        layout.id3_body = data[10 : 10 + size]
        position = layout.id3_bytes
    while position + 4 <= len(data):
        header = int.from_bytes(data[position : position + 4], "big")
        if header >> 21 != 0x7FF:
            break
        version, layer = (header >> 19) & 3, (header >> 17) & 3
        bitrate_index, rate_index = (header >> 12) & 15, (header >> 10) & 3
        if version != 3 or layer != 1 or bitrate_index not in BITRATES_KBPS or rate_index not in SAMPLE_RATES:
            raise ValueError(f"frame at {position}: not an MPEG-1 Layer III header ({header:08x})")
        bitrate, rate = BITRATES_KBPS[bitrate_index], SAMPLE_RATES[rate_index]
        padding, mode = bool((header >> 9) & 1), (header >> 6) & 3
        size = 144 * bitrate * 1000 // rate + int(padding)
        side_info_end = position + 4 + (17 if mode == 3 else 32)
        tag = data[side_info_end : side_info_end + 4]
        if tag not in VBR_TAGS[:2]:
            tag = data[position + 36 : position + 40]
            tag = tag if tag == b"VBRI" else b""
        layout.frames.append(FrameHeader(
            offset=position, version=version, layer=layer, bitrate_kbps=bitrate, sample_rate=rate,
            padding=padding, private=bool((header >> 8) & 1), mode=mode, size=size, vbr_tag=tag,
        ))
        position += size
    if position > len(data):  # the last frame is cut short
        cut = layout.frames.pop()
        position = cut.offset
    layout.trailing = data[position:]
    return layout
