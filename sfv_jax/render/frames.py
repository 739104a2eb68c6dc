"""Frame access for rendering a track's comparison video."""
from __future__ import annotations

import cv2
import numpy as np


class VideoFrames:
    """Frame access for rendering: sequential decoding, seeking only when going back."""

    def __init__(self, path: str, image_size: tuple[int, int]):
        self.path, self.size = path, image_size
        self.cap = cv2.VideoCapture(path) if path else None
        self.next = 0
        self.blank = np.full(image_size + (3,), 64, np.uint8)

    def __call__(self, index: int) -> np.ndarray:
        if self.cap is None:
            return self.blank.copy()
        if index < self.next or index > self.next + 64:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            self.next = index
        while self.next < index:
            self.cap.grab()
            self.next += 1
        ok, frame = self.cap.read()
        self.next += 1
        if not ok:
            return self.blank.copy()
        if frame.shape[:2] != tuple(self.size):
            frame = cv2.resize(frame, (self.size[1], self.size[0]))
        return frame

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
