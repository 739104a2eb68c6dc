"""Matching per-person 3D estimates (HMR, HMMR, VIBE, SFV outputs) to the tracker's tracks.

An estimate is attached to the track it covers: over the frames both share, its crop should
sit on the track's box (without a crop of its own, its projected body on the track's
keypoints). Estimates without
frame indices (an SFV ``.h5``, an HMMR pickle: positions along the track they were computed
on) are tried at every alignment with each track (a contiguous window of the track's
frames, or of the estimate's rows when it is longer). An optimal one-to-one assignment
(Hungarian) then pairs estimates and tracks; an estimate that matches no track well
enough, matches two tracks about equally, or whose projection lands far from its track's
keypoints (the "initial 2D error" check) is left out and reported, never attached silently.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from sfv_jax.geometry.cameras import project_crop
from sfv_jax.geometry.crops import crop_box, crop_norm_to_image
from sfv_jax.inputs.config import ReadingSettings, TrackingSettings
from sfv_jax.inputs.estimates import Estimates, attach_estimates
from sfv_jax.inputs.track import InputError, Track

_MAX_ALIGNMENTS = 4000  # offsets tried per (frame-less estimate, track) pair


@dataclasses.dataclass(frozen=True)
class _Match:
    score: float           # coverage-weighted agreement, 0..1
    rows: np.ndarray       # (n,) estimate rows used
    pos: np.ndarray        # (n,) track positions they go to
    agreement: float       # mean per-frame agreement over the observed shared frames


def _model_keypoints(e: Estimates, model: Any) -> tuple[np.ndarray, str]:
    """(N, K, 2) the estimate's model keypoints in normalized crop coordinates, and their
    format (HMR's weak perspective ``s * (X[:2] + t)``)."""
    from sfv_jax.body import chunked

    # Compiled per chunk shape, not op by op for every estimate's length.
    out = chunked.forward_np(model, e.pose, e.betas, fields=("keypoints",))
    kp3 = np.asarray(out["keypoints"], np.float64)
    return project_crop(kp3, np.asarray(e.cam, np.float64)), model.keypoint_format


class _Scorer:
    """Per-frame agreement of one estimate with one track (NumPy, no solver state)."""

    def __init__(self, e: Estimates, t: Track, proj: tuple[np.ndarray, str] | None,
                 vis_thresh: float, cfg: ReadingSettings) -> None:
        from sfv_jax import skeletons

        self.e, self.t = e, t
        self.center_scale = float(cfg.estimate_center_scale)
        self.error_scale = float(cfg.estimate_error_scale)
        boxes = np.asarray(t.boxes, np.float64)
        self.center = 0.5 * (boxes[:, :2] + boxes[:, 2:])
        self.diag = np.linalg.norm(boxes[:, 2:] - boxes[:, :2], axis=-1) + 1e-6
        self.observed = np.asarray(t.observed, bool)
        self.proj = None
        if proj is not None and (e.crop_scale is not None or t.crop_scale is not None):
            xy, fmt = proj
            self.proj = xy
            self.obs = skeletons.convert_keypoints(t.keypoints, "body25", fmt)
            self.vis = self.obs[..., 2] > vis_thresh
        if e.crop_scale is not None:
            crops = crop_box(np.asarray(e.crop_scale, np.float64),
                             np.asarray(e.crop_start, np.float64), e.crop_size)
            self.crop_center = 0.5 * (crops[:, :2] + crops[:, 2:])

    def agreement(self, rows: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """(n,) in 0..1 for estimate rows paired with track positions (observed frames).

        The estimate's own crop says where its person is; without one (its camera refers to
        the track's crop, so it fits any track's position) only the projected body's shape
        against the track's keypoints can tell, and 1 when there is no model either."""
        if self.e.crop_scale is not None:
            d = np.linalg.norm(self.crop_center[rows] - self.center[pos], axis=-1)
            return np.exp(-(d / (self.center_scale * self.diag[pos])) ** 2)
        if self.proj is not None:
            return np.exp(-(self.error(rows, pos) / self.error_scale) ** 2)
        return np.ones(len(rows))

    def error(self, rows: np.ndarray, pos: np.ndarray, pixels: bool = False) -> np.ndarray:
        """(n,) mean distance of the projected model keypoints to the track's visible ones,
        in person sizes (box diagonals) or pixels; inf where no point is visible."""
        e, t = self.e, self.t
        if e.crop_scale is not None:
            scale, start, size = e.crop_scale[rows], e.crop_start[rows], e.crop_size
        else:
            scale, start, size = t.crop_scale[pos], t.crop_start[pos], t.crop_size
        px = crop_norm_to_image(self.proj[rows], np.asarray(scale, np.float64),
                                np.asarray(start, np.float64), float(size))
        d = np.linalg.norm(px - self.obs[pos, :, :2], axis=-1)
        vis = self.vis[pos]
        n = vis.sum(-1)
        mean = np.where(n > 0, np.where(vis, d, 0.0).sum(-1) / np.maximum(n, 1), np.inf)
        return mean if pixels else mean / self.diag[pos]

    def best(self) -> _Match | None:
        e, t = self.e, self.t
        n_obs = max(int(self.observed.sum()), 1)
        candidates = []
        if e.frames is not None:
            _, rows, pos = np.intersect1d(e.frames, t.frames, return_indices=True)
            if len(rows):
                candidates.append((rows, pos))
        else:
            N, T = e.num_frames, t.num_frames
            m = min(N, T)
            offsets = range(abs(N - T) + 1)
            if len(offsets) > _MAX_ALIGNMENTS:  # coarse grid; exact offsets near the best later
                offsets = np.linspace(0, abs(N - T), _MAX_ALIGNMENTS).round().astype(int)
            for o in offsets:
                rows = np.arange(m) + (o if N > T else 0)
                pos = np.arange(m) + (o if T >= N else 0)
                candidates.append((rows, pos))
        best = None
        for rows, pos in candidates:
            keep = self.observed[pos]
            if not keep.any():
                continue
            g = self.agreement(rows[keep], pos[keep])
            score = float(g.sum()) / n_obs
            if best is None or score > best.score:
                best = _Match(score, rows, pos, float(g.mean()))
        return best


def _take(e: Estimates, rows: np.ndarray, frames: np.ndarray) -> Estimates:
    """The estimate's ``rows`` with the given frame indices (a frame-less file aligned)."""
    pick = lambda a: None if a is None else np.asarray(a)[rows]  # noqa: E731
    return dataclasses.replace(e, cam=pick(e.cam), pose=pick(e.pose), betas=pick(e.betas),
                               crop_scale=pick(e.crop_scale), crop_start=pick(e.crop_start),
                               frames=np.asarray(frames))


def match_estimates(tracks: Sequence[Track], ests: Sequence[Estimates],
                    cfg: ReadingSettings, model: Any = None,
                    vis_thresh: float | None = None) -> tuple[list[Track], list[dict]]:
    """Attaches per-person estimates to the tracks they cover.

    Args:
      tracks: the video's tracks (BODY_25 keypoints, boxes, crops).
      ests: estimates read from the video's files.
      cfg: ``ReadingSettings`` (the ``estimate_*`` keys; a ConfigDict section is converted).
      model: the job's ``BodyModel``; with it, estimates without crops are matched by their
        projected body and every attached estimate passes the initial 2D error check;
        without it only crops and frame coverage count.
      vis_thresh: track keypoints above this confidence are compared (default the
        ``tracking`` section's ``vis_thresh``).

    Returns:
      The tracks (those given an estimate possibly trimmed to the frames it covers), and one
      problem per estimate left out: ``{"file", "track" (or None), "reason"}``.
    """
    from scipy.optimize import linear_sum_assignment

    cfg = ReadingSettings.from_config(cfg)
    if vis_thresh is None:
        vis_thresh = TrackingSettings().vis_thresh
    out = list(tracks)
    problems: list[dict] = []
    if not ests:
        return out, problems
    if not tracks:
        return out, [{"file": e.source, "track": None, "reason": "the video has no tracks"}
                     for e in ests]
    projections = [_model_keypoints(e, model) if model is not None else None for e in ests]
    scorers = [[_Scorer(e, t, projections[i], vis_thresh, cfg) for t in tracks]
               for i, e in enumerate(ests)]
    matches = [[s.best() for s in row] for row in scorers]
    score = np.asarray([[0.0 if m is None else m.score for m in row] for row in matches])
    rows, cols = linear_sum_assignment(-score)
    assigned = dict(zip(rows.tolist(), cols.tolist()))
    for i, e in enumerate(ests):
        j = assigned.get(i)
        order = np.argsort(-score[i])
        top = int(order[0])
        if j is None or score[i, j] < cfg.estimate_min_score:
            why = (f"matches no track well enough (best: track {tracks[top].track_id}, score "
                   f"{score[i, top]:.2f} < estimate_min_score {cfg.estimate_min_score})")
            if score[i, top] >= cfg.estimate_min_score and top != j:
                why = (f"its best track {tracks[top].track_id} (score {score[i, top]:.2f}) "
                       f"went to another estimate")
            problems.append({"file": e.source, "track": None, "reason": why})
            continue
        others = np.delete(score[i], j)
        if others.size and others.max() >= cfg.estimate_ambiguity * score[i, j]:
            k = int(order[0] if order[0] != j else order[1])
            problems.append({"file": e.source, "track": int(tracks[j].track_id), "reason": (
                f"ambiguous: matches track {tracks[j].track_id} (score {score[i, j]:.2f}) and "
                f"track {tracks[k].track_id} (score {score[i, k]:.2f}) about equally")})
            continue
        m, t, sc = matches[i][j], tracks[j], scorers[i][j]
        if cfg.estimate_max_init_error > 0 and sc.proj is not None:
            obs = t.observed[m.pos]
            err = sc.error(m.rows[obs], m.pos[obs], pixels=True)
            err = float(np.mean(err[np.isfinite(err)])) if np.isfinite(err).any() else np.inf
            size = float(np.median(sc.diag[m.pos[obs]]))
            if not err <= cfg.estimate_max_init_error * size:
                problems.append({"file": e.source, "track": int(t.track_id), "reason": (
                    f"initial 2D error {err:.0f} px is over estimate_max_init_error "
                    f"{cfg.estimate_max_init_error} x the person's size {size:.0f} px; the "
                    f"estimate is not of this person (or its camera is wrong)")})
                continue
        est = e if e.frames is not None else _take(e, m.rows, t.frames[m.pos])
        covered = np.isin(t.frames, est.frames)
        if not covered.all():
            idx = np.flatnonzero(covered)
            t = t.slice(int(idx[0]), int(idx[-1]) + 1)
        try:
            out[j] = attach_estimates(t, est)
        except InputError as err:
            problems.append({"file": e.source, "track": int(t.track_id), "reason": str(err)})
    return out, problems


def associate_estimates(tracks: Sequence[Track], ests: Sequence[Estimates],
                        cfg: ReadingSettings | None = None,
                        model: Any = None) -> list[Track]:
    """``match_estimates`` that raises on the first estimate left out (for callers that
    cannot report problems; the job uses ``match_estimates``)."""
    out, problems = match_estimates(tracks, ests, ReadingSettings.from_config(cfg), model)
    if problems:
        p = problems[0]
        where = f" (track {p['track']})" if p["track"] is not None else ""
        raise InputError(f"{p['file']}{where}: {p['reason']}")
    return out
