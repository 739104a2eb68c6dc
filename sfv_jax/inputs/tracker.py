"""Multi-person tracking of per-frame 2D keypoints (SFV's ``run_openpose.py`` step).

Per frame: a box from each person's confident keypoints, non-maximum suppression, then an
optimal assignment (``scipy.optimize.linear_sum_assignment``) of detections to live tracks
by box IoU and keypoint similarity (OKS) against each track's constant-velocity prediction,
gated by a minimum similarity and, across gaps, by a consistent size and position
(``gap_consistent``). Unmatched tracks survive ``max_gap`` frames. Finished tracks
are filtered on length and score, their gaps bridged (interpolated boxes, zero-confidence
keypoints), their box trajectory median- then Gaussian-smoothed as in SFV, and each frame
gets SFV's HMR crop (the person at ``person_px`` in a ``crop_size`` crop).

Differences from the original, on purpose: proper box corner arithmetic in IoU and NMS
(the original mixed x and y corners), optimal instead of greedy matching, keypoint
similarity next to IoU, constant-velocity prediction across gaps, linearly interpolated
gap boxes, and edge-aware filters (the original's ``medfilt`` pads with zeros).
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Mapping

import numpy as np
from scipy import ndimage, optimize

from sfv_jax import skeletons
from sfv_jax.inputs import limb_swaps
from sfv_jax.inputs.config import TrackingSettings
from sfv_jax.inputs.notes import Tally
from sfv_jax.inputs.track import CANONICAL_FORMAT, NUM_KEYPOINTS, Detections, Track
from sfv_jax.geometry import crops
from sfv_jax.geometry.boxes import box_iou, nms  # noqa: F401  (re-exported)

_GATED = 1e6  # cost of a pair below the similarity gate (never accepted)


# --------------------------------------------------------------------------------------
# Boxes, IoU, NMS, OKS
# --------------------------------------------------------------------------------------
def boxes_from_keypoints(keypoints: np.ndarray, vis_thresh: float, min_visible: int,
                         pad: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes around each person's visible keypoints.

    Args:
      keypoints: (P, K, 3) pixels and confidence.
      vis_thresh: visibility threshold on confidence.
      min_visible: fewer visible points make the detection invalid.
      pad: the tight box grows by ``pad * max(w, h)`` on each side.

    Returns:
      boxes (P, 4) ``x0, y0, x1, y1``, scores (P,) mean confidence of the visible points,
      valid (P,) bool.
    """
    lo, hi, count = crops.visible_box(keypoints[..., :2], keypoints[..., 2] > vis_thresh)
    extent = hi - lo
    grow = pad * extent.max(axis=-1, keepdims=True)
    boxes = np.concatenate([lo - grow, hi + grow], axis=-1)
    conf = np.where(keypoints[..., 2] > vis_thresh, keypoints[..., 2], 0.0).sum(axis=-1)
    scores = conf / np.maximum(count, 1)
    # A person whose visible points coincide has no extent: no box, no crop scale.
    valid = (count >= min_visible) & (np.linalg.norm(extent, axis=-1) > 0)
    return boxes, scores, valid


def keypoint_similarity(pred: np.ndarray, det: np.ndarray, scale: np.ndarray, sigma: np.ndarray,
                        vis_thresh: float) -> np.ndarray:
    """OKS-like similarity of predicted and detected keypoints.

    Args:
      pred: (N, K, 3) predicted keypoints of the tracks.
      det: (M, K, 3) detected keypoints.
      scale: (N,) person scale of each track (sqrt of box area, pixels).
      sigma: (N,) falloff as a fraction of ``scale``.
      vis_thresh: points below this confidence in either set are ignored.

    Returns:
      (N, M) mean of ``exp(-d^2 / (2 (sigma scale)^2))`` over the points visible in both;
      0 where none is.
    """
    d2 = ((pred[:, None, :, :2] - det[None, :, :, :2]) ** 2).sum(-1)  # (N, M, K)
    both = (pred[:, None, :, 2] > vis_thresh) & (det[None, :, :, 2] > vis_thresh)
    s2 = (np.asarray(sigma) * np.asarray(scale)) ** 2
    e = np.exp(-d2 / (2.0 * np.maximum(s2, 1e-12)[:, None, None]))
    n = both.sum(-1)
    return np.where(n > 0, (e * both).sum(-1) / np.maximum(n, 1), 0.0)


# --------------------------------------------------------------------------------------
# Association
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Live:
    """A track being built (mutable, private to the association loop).

    Motion is estimated from keypoints, not box edges: an occluder truncates a person's box
    (its edges jump while the person moves steadily), but the keypoints both detections see
    move with the person. Each keypoint's last seen position is kept, so a partly hidden
    person is still predicted whole.
    """
    frames: list[int]
    keypoints: list[np.ndarray]
    boxes: list[np.ndarray]
    scores: list[float]
    velocity: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(2))  # px / frame
    last_seen: np.ndarray | None = None   # (K, 3) last visible x, y of each point, frame
    ref_box: np.ndarray | None = None     # last box of a fully seen person, (4,)
    ref_frame: int = 0
    vis_thresh: float = 0.1

    def __post_init__(self) -> None:
        kp = self.keypoints[-1]
        vis = kp[:, 2] > self.vis_thresh
        self.last_seen = np.where(vis[:, None], np.concatenate(
            [kp[:, :2], np.full((len(kp), 1), self.frames[-1])], -1), np.nan)
        self.ref_box, self.ref_frame = self.boxes[-1].copy(), self.frames[-1]

    def predict(self, frame: int) -> tuple[np.ndarray, np.ndarray, int]:
        dt = frame - self.frames[-1]
        box = self.ref_box + np.tile(self.velocity, 2) * (frame - self.ref_frame)
        seen = np.isfinite(self.last_seen[:, 0])
        kp = np.zeros((len(self.last_seen), 3))
        ago = frame - self.last_seen[seen, 2]
        kp[seen, :2] = self.last_seen[seen, :2] + self.velocity * ago[:, None]
        kp[seen, 2] = 1.0
        return box, kp, dt

    def add(self, frame: int, kp: np.ndarray, box: np.ndarray, score: float, alpha: float):
        dt = frame - self.frames[-1]
        vis = kp[:, 2] > self.vis_thresh
        seen = np.isfinite(self.last_seen[:, 0])
        both = vis & seen
        if both.any():
            # Displacement of the points seen now and before, per frame since each was seen.
            ago = np.maximum(frame - self.last_seen[both, 2], 1.0)
            step = np.median((kp[both, :2] - self.last_seen[both, :2]) / ago[:, None], axis=0)
            self.velocity = step if len(self.frames) == 1 else \
                alpha * step + (1 - alpha) * self.velocity
        self.last_seen[vis] = np.concatenate([kp[vis, :2], np.full((vis.sum(), 1), frame)], -1)
        # A box counts as the whole person when it is not much smaller than the reference.
        area = lambda b: max(b[2] - b[0], 1e-6) * max(b[3] - b[1], 1e-6)  # noqa: E731
        if area(box) >= 0.7 * area(self.ref_box) or frame - self.ref_frame > 3 * max(dt, 1):
            self.ref_box, self.ref_frame = box.copy(), frame
        self.frames.append(frame)
        self.keypoints.append(kp)
        self.boxes.append(box)
        self.scores.append(score)


def gap_consistent(pred_box: np.ndarray, ref_box: np.ndarray, det_box: np.ndarray,
                   gap: np.ndarray, cfg: TrackingSettings) -> np.ndarray:
    """Whether bridging a gap keeps the person's size and position plausible.

    Args:
      pred_box: (N, 4) each track's constant-velocity box prediction for this frame.
      ref_box: (N, 4) each track's last whole-person box (its size is the person's size).
      det_box: (M, 4) detection boxes.
      gap: (N,) frames since each track's last detection (1 = seen in the previous frame).
      cfg: the ``tracking`` settings (``gap_size_ratio``, ``gap_max_shift``).

    Returns:
      (N, M) bool: True where ``gap <= 1`` (no gap), or where the detection's size (sqrt of
      box area) is within ``gap_size_ratio`` of the track's and its centre lies within
      ``gap_max_shift * size * sqrt(missed frames)`` of the predicted centre.
    """
    side = lambda b: np.sqrt(np.prod(np.clip(b[:, 2:] - b[:, :2], 1e-6, None), -1))  # noqa: E731
    s_ref, s_det = side(ref_box)[:, None], side(det_box)[None, :]
    ratio = np.maximum(s_ref, s_det) / np.minimum(s_ref, s_det)
    c_pred = 0.5 * (pred_box[:, None, :2] + pred_box[:, None, 2:])
    c_det = 0.5 * (det_box[None, :, :2] + det_box[None, :, 2:])
    shift = np.linalg.norm(c_det - c_pred, axis=-1)
    missed = np.maximum(np.asarray(gap, np.float64) - 1.0, 0.0)[:, None]
    ok = (ratio <= cfg.gap_size_ratio) & (shift <= cfg.gap_max_shift * s_ref * np.sqrt(missed))
    return ok | (missed == 0)


def ids_carry_identity(dets: Detections) -> bool:
    """Whether the source's ids tell people apart.

    AlphaPose run without ``--pose_track`` writes the same ``idx`` (0) for everyone; such ids
    say nothing. Ids are trusted when every frame with people has them and at most 5% of the
    frames holding several people repeat an id within the frame.
    """
    if dets.ids is None:
        return False
    multi = dup = 0
    for f, kp in dets.people.items():
        if kp.shape[0] == 0:
            continue
        if f not in dets.ids:
            return False
        if kp.shape[0] > 1:
            multi += 1
            dup += len(np.unique(dets.ids[f])) < kp.shape[0]
    return multi == 0 or dup <= 0.05 * multi


def _prepare(per_frame_people: Detections | Mapping[int, np.ndarray],
             keypoint_format: str, source: str) -> Detections:
    if isinstance(per_frame_people, Detections):
        return per_frame_people
    people = {}
    tally = Tally(source or "detections")
    for f, kp in per_frame_people.items():
        kp = np.asarray(kp, dtype=np.float64)
        if kp.size == 0:
            kp = np.zeros((0, skeletons.num_keypoints(keypoint_format), 3))
        if kp.ndim == 2:
            kp = kp[None]
        if kp.ndim != 3 or kp.shape[-1] != 3:
            raise ValueError(f"{source or 'detections'}: frame {f}: keypoints must be (P, K, 3), "
                             f"got {kp.shape}")
        bad = ~np.isfinite(kp).all(axis=-1)
        if bad.any():  # a NaN point is an undetected point, not a reason to stop
            p = int(np.argmax(bad.any(axis=-1)))
            tally.add("frames with NaN/inf keypoints", f"frame {f} person {p}: keypoints "
                      f"{np.nonzero(bad[p])[0].tolist()} are NaN/inf", "treated as missing")
            kp = np.where(bad[..., None], 0.0, kp)
        if keypoint_format != CANONICAL_FORMAT:
            kp = skeletons.convert_keypoints(kp, keypoint_format, CANONICAL_FORMAT)
        people[int(f)] = kp
    tally.emit()
    return Detections(people=people, source_format=keypoint_format)


def _frame_detections(kp: np.ndarray, cfg: TrackingSettings, do_nms: bool):
    boxes, scores, valid = boxes_from_keypoints(kp, cfg.vis_thresh, cfg.min_visible, cfg.box_pad)
    idx = np.nonzero(valid)[0]
    if do_nms and idx.size > 1:
        idx = idx[nms(boxes[idx], scores[idx], cfg.nms_iou)]
    return idx, boxes, scores


def associate(dets: Detections, cfg: TrackingSettings) -> list[_Live]:
    """Frame-to-frame optimal assignment; returns every track ever started."""
    finished: list[_Live] = []
    live: list[_Live] = []
    for f in sorted(dets.people):
        kp_all = dets.people[f]
        # Tracks unseen for longer than max_gap end here.
        still = []
        for t in live:
            (still if f - t.frames[-1] <= cfg.max_gap else finished).append(t)
        live = still
        if kp_all.shape[0] == 0:
            continue
        idx, boxes, scores = _frame_detections(kp_all, cfg, do_nms=True)
        if idx.size == 0:
            continue
        det_kp, det_box, det_score = kp_all[idx], boxes[idx], scores[idx]
        matched_det = np.zeros(idx.size, dtype=bool)
        if live:
            preds = [t.predict(f) for t in live]
            pbox = np.stack([p[0] for p in preds])
            pkp = np.stack([p[1] for p in preds])
            gap = np.asarray([p[2] for p in preds], dtype=np.float64)
            area = np.clip(pbox[:, 2] - pbox[:, 0], 1e-6, None) * \
                np.clip(pbox[:, 3] - pbox[:, 1], 1e-6, None)
            sigma = cfg.oks_sigma * (1.0 + cfg.oks_gap_growth * (gap - 1.0))
            oks = keypoint_similarity(pkp, det_kp, np.sqrt(area), sigma, cfg.vis_thresh)
            iou = box_iou(pbox, det_box)
            wsum = cfg.iou_weight + cfg.oks_weight  # > 0 (TrackingSettings.__post_init__)
            sim = (cfg.iou_weight * iou + cfg.oks_weight * oks) / wsum
            # The gate uses the similarity; the assignment cost also charges each missed
            # frame, so a track seen last frame wins a detection that a long-unseen track's
            # wide prediction covers too.
            ok = (sim >= cfg.min_similarity) & gap_consistent(
                pbox, np.stack([t.ref_box for t in live]), det_box, gap, cfg)
            cost = np.where(ok, 1.0 - sim + cfg.gap_penalty * (gap[:, None] - 1.0), _GATED)
            rows, cols = optimize.linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if ok[r, c]:
                    live[r].add(f, det_kp[c], det_box[c], float(det_score[c]),
                                cfg.velocity_smoothing)
                    matched_det[c] = True
        for c in np.nonzero(~matched_det)[0]:
            if det_score[c] >= cfg.min_new_track_score:
                live.append(_Live([f], [det_kp[c]], [det_box[c]], [float(det_score[c])],
                                  vis_thresh=cfg.vis_thresh))
    return finished + live


def _group_by_source_ids(dets: Detections, cfg: TrackingSettings) -> list[_Live]:
    """Tracks from the source's ids; an id's track ends at a gap longer than ``max_gap`` or
    one across which size and position are inconsistent (``gap_consistent``), and the id's
    next detection starts a new track, as the tracker's own tracks do."""
    groups: dict[int, _Live] = {}
    finished: list[_Live] = []
    for f in sorted(dets.people):
        kp_all = dets.people[f]
        if kp_all.shape[0] == 0:
            continue
        idx, boxes, scores = _frame_detections(kp_all, cfg, do_nms=False)
        best: dict[int, int] = {}
        for i in idx:  # one detection per id and frame: the best-scoring one
            pid = int(dets.ids[f][i])
            if pid not in best or scores[i] > scores[best[pid]]:
                best[pid] = int(i)
        for pid, i in best.items():
            g = groups.get(pid)
            if g is not None:
                gap = f - g.frames[-1]
                pred = g.predict(f)[0]
                if gap > cfg.max_gap or not gap_consistent(
                        pred[None], g.ref_box[None], boxes[i][None], np.asarray([gap]), cfg)[0, 0]:
                    finished.append(groups.pop(pid))
                    g = None
            if g is None:
                groups[pid] = _Live([f], [kp_all[i]], [boxes[i]], [float(scores[i])],
                                    vis_thresh=cfg.vis_thresh)
            else:
                g.add(f, kp_all[i], boxes[i], float(scores[i]), cfg.velocity_smoothing)
    return finished + list(groups.values())


# --------------------------------------------------------------------------------------
# Finishing: filters, gap filling, smoothing, crops
# --------------------------------------------------------------------------------------
def smooth_trajectory(params: np.ndarray, median_kernel: int, gaussian_sigma: float) -> np.ndarray:
    """Median then Gaussian filtering along time of each column. params: (T, C)."""
    out = np.asarray(params, dtype=np.float64)
    T = out.shape[0]
    k = min(int(median_kernel), T if T % 2 else T - 1)
    if k > 1:
        out = ndimage.median_filter(out, size=(k, 1), mode="nearest")
    if gaussian_sigma > 0 and T > 1:
        out = ndimage.gaussian_filter1d(out, gaussian_sigma, axis=0, mode="nearest")
    return out


def _finish(t: _Live, image_size: tuple[int, int], cfg: TrackingSettings
            ) -> dict | None:
    frames = np.asarray(t.frames, dtype=np.int64)
    scores = np.asarray(t.scores)
    # Cut trailing low-confidence detections (SFV END_BOX_CONF).
    n = len(frames)
    while n > 1 and scores[n - 1] < cfg.end_score:
        n -= 1
    frames, scores = frames[:n], scores[:n]
    kps = np.stack(t.keypoints[:n])
    boxes = np.stack(t.boxes[:n])

    all_frames = np.arange(frames[0], frames[-1] + 1)
    T = all_frames.size
    pos = frames - frames[0]
    keypoints = np.zeros((T, NUM_KEYPOINTS, 3))
    keypoints[pos] = kps
    observed = np.zeros(T, dtype=bool)
    observed[pos] = True

    out_boxes, crop_scale, crop_start = _smooth_boxes_and_crops(
        frames, kps, boxes, all_frames, image_size, cfg)
    return dict(frames=all_frames, keypoints=keypoints, boxes=out_boxes, observed=observed,
                crop_scale=crop_scale, crop_start=crop_start, crop_size=cfg.crop_size,
                mean_score=float(scores.mean()))


def _smooth_boxes_and_crops(frames: np.ndarray, kps: np.ndarray, boxes: np.ndarray,
                            all_frames: np.ndarray, image_size: tuple[int, int],
                            cfg: TrackingSettings
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Box center, size and SFV crop scale of the observed frames (n,), interpolated over
    ``all_frames`` (T,), median- then Gaussian-smoothed; returns boxes (T, 4), crop_scale
    (T,), crop_start (T, 2)."""
    _, diagonal, _ = crops.person_box(kps[..., :2], kps[..., 2] > cfg.vis_thresh)
    center = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    size = boxes[:, 2:] - boxes[:, :2]
    scale = crops.person_scale(diagonal, cfg.person_px)
    params = np.concatenate([center, size, scale[:, None]], axis=1)  # (n, 5)
    # Gaps: linear interpolation of the box parameters between observations.
    filled = np.stack([np.interp(all_frames, frames, params[:, j]) for j in range(5)], axis=1)
    smooth = smooth_trajectory(filled, cfg.median_kernel, cfg.gaussian_sigma)
    c, s = smooth[:, :2], np.maximum(smooth[:, 2:4], 1e-3)
    out_boxes = np.concatenate([c - 0.5 * s, c + 0.5 * s], axis=1)
    crop_scale, crop_start = crops.hmr_crop(c, smooth[:, 4], cfg.crop_size, image_size)
    return out_boxes, crop_scale, crop_start


def with_crops(track: Track, cfg: TrackingSettings) -> Track:
    """The track with SFV's HMR crops (and smoothed boxes) derived from its keypoints.

    For tracks that come without crops (a user's own .npz, PoseFlow tracks built outside
    ``track_people``). Frames whose keypoints are too few to measure the person are bridged
    like tracker gaps.

    Raises:
      ValueError naming the track's source when no frame has enough visible keypoints.
    """
    cfg = TrackingSettings.from_config(cfg)  # a ConfigDict section is converted here
    _, _, valid = boxes_from_keypoints(track.keypoints, cfg.vis_thresh, cfg.min_visible,
                                       cfg.box_pad)
    if not valid.any():
        raise ValueError(f"{track.source or 'track'} (track {track.track_id}): no frame has "
                         f"{cfg.min_visible} keypoints above confidence {cfg.vis_thresh}; "
                         f"cannot place a crop")
    boxes, _, _ = boxes_from_keypoints(track.keypoints[valid], cfg.vis_thresh, cfg.min_visible,
                                       cfg.box_pad)
    out_boxes, crop_scale, crop_start = _smooth_boxes_and_crops(
        track.frames[valid], track.keypoints[valid], boxes, track.frames, track.image_size, cfg)
    return track.replace(boxes=out_boxes, crop_scale=crop_scale, crop_start=crop_start,
                         crop_size=cfg.crop_size)


def track_people(per_frame_people: Detections | Mapping[int, np.ndarray],
                 image_size: tuple[int, int], cfg: TrackingSettings, *,
                 fps: float = 30.0, keypoint_format: str = CANONICAL_FORMAT,
                 source: str = "", video: str = "") -> list[Track]:
    """Tracks every person of a video.

    Args:
      per_frame_people: ``Detections`` from a reader, or {frame index: (P, K, 3)} keypoints
        in ``keypoint_format`` (full-image pixels, confidence; P may be 0).
      image_size: (H, W) of the video.
      cfg: ``TrackingSettings`` (a ``tracking`` ConfigDict section is converted).
      fps: frames per second, stored on the tracks.
      keypoint_format: format of a plain mapping's keypoints (converted to BODY_25).
      source, video: names for messages and the tracks (taken from ``Detections`` if unset).

    Returns:
      Tracks ordered by first frame, ``track_id`` 0, 1, ...; each has boxes, BODY_25
      keypoints (zero in gaps), ``observed``, and HMR crops for every frame from its first to
      its last detection. An empty list (with a warning) when nobody survives.
    """
    cfg = TrackingSettings.from_config(cfg)  # a ConfigDict section is converted here
    dets = _prepare(per_frame_people, keypoint_format, source)
    source = source or dets.source
    video = video or dets.video
    if len(image_size) != 2 or min(image_size) <= 0:
        raise ValueError(f"{source}: image_size must be (H, W) > 0, got {image_size}")
    use_ids = cfg.use_source_ids and ids_carry_identity(dets)
    if cfg.use_source_ids and dets.ids is not None and not use_ids:
        warnings.warn(f"{source or 'detections'}: the source's ids do not tell people apart "
                      f"(several people of a frame share one id); the tracker assigns "
                      f"identities")
    raw = _group_by_source_ids(dets, cfg) if use_ids else associate(dets, cfg)
    if not raw:
        warnings.warn(f"{source or 'detections'}: no person with at least {cfg.min_visible} "
                      f"keypoints above confidence {cfg.vis_thresh} in any frame; no tracks")
        return []
    kept = []
    for t in sorted(raw, key=lambda t: (t.frames[0], t.boxes[0][0])):
        n = len(t.frames)
        span = t.frames[-1] - t.frames[0] + 1
        mean_score = float(np.mean(t.scores))
        if n < cfg.min_track_frames or n < cfg.min_track_fraction * span \
                or mean_score < cfg.min_track_score:
            continue
        kept.append(_finish(t, tuple(image_size), cfg))
    if not kept:
        warnings.warn(f"{source or 'detections'}: {len(raw)} candidate tracks, none passes the "
                      f"filters (min_track_frames={cfg.min_track_frames}, min_track_fraction="
                      f"{cfg.min_track_fraction}, min_track_score={cfg.min_track_score})")
    tracks = []
    tally = Tally(source or "detections")
    names = skeletons.keypoint_names(CANONICAL_FORMAT)
    for i, d in enumerate(kept):
        d.pop("mean_score")
        d["keypoints"], labels = limb_swaps.repair_swaps(d["keypoints"], names, cfg)
        for group, states in labels.items():
            for t in np.flatnonzero(states):
                tally.add(f"the detector's left and right {group} swapped back",
                          f"track {i} frame {int(d['frames'][t])}")
        tracks.append(Track(image_size=tuple(image_size), fps=fps, source=source, video=video,
                            track_id=i, **d))
    tally.emit()
    return tracks
