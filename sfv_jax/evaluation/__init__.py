"""Accuracy evaluation: metrics (MPJPE, PA-MPJPE, acceleration error, 2D error), synthetic
observations of motion capture (virtual cameras, detector-like keypoints, regressor-like initial
estimates), the mocap truth on the body model, and the benchmark driver."""
