"""Accuracy evaluation: metrics (MPJPE, PA-MPJPE, acceleration error, 2D error), world-frame and
contact metrics (W-MPJPE, WA-MPJPE, root acceleration, foot skating / float, ground penetration),
synthetic observations of motion capture (phone-like virtual cameras, detector-like keypoints,
regressor-like initial estimates), the mocap truth on the body model, and the benchmark driver."""
