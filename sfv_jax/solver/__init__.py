"""placeholder"""
from sfv_jax.solver.clips import Clip, ClipResult
from sfv_jax.solver.config import SolverSettings, solver_config
from sfv_jax.solver.optimize import solve, solve_batch
