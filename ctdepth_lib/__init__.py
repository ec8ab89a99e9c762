"""ctdepth_lib — the helper library of the ctdepth book.

Deep networks as differential equations (Ruseckas, arXiv:1909.03767): the
ResNet/feedforward unrolls, momenta, Hamiltonians, invariants and convergence
fits that the chapters show, each tested against an independent reference.
"""

from __future__ import annotations

from . import claims, plotting
from .convergence import convergence_order
from .cost import COST_METHODS, GradientCost, cost_table, format_cost_table, gradient_cost
from .data import Dataset, check_dataset, digits_dataset, moons_dataset, split_standardize
from .feedforward import (
    SPLITTING_SCHEMES,
    TANH,
    NearIdentityClassifier,
    NearIdentityField,
    Nonlinearity,
    euler_step_difference,
    feedforward_layers,
    feedforward_unroll,
    leaky_limit_closed_form,
    leaky_relu_nonlinearity,
    near_identity_divergence,
    near_identity_field,
    near_identity_momentum_field,
    splitting_unroll,
    strong_feedforward_unroll,
    train_near_identity_classifier,
)
from .fields import TimeMLP
from .gradients import layer_gradients, parameter_density, solver_gradients
from .invariants import (
    ACTIVATIONS,
    FeedforwardNet,
    HomogeneousField,
    RotationEquivariantField,
    TranslationInvariantField,
    angular_momentum,
    charge_drift,
    charge_drift_profile,
    layer_momenta,
    noether_charge,
    rotation_generator,
    scaling_charge,
    translation_charge,
)
from .momenta import adjoint_momenta, backprop_momenta, hamiltonian, hamiltonian_flow, modified_hamiltonian
from .outputs import below, fmt, glue, stable
from .params import Param, validate_parameters
from .phase_space import (
    gradient_gain,
    jacobian_spectrum,
    network_phase_jacobian,
    network_phase_map,
    polygon_area,
    state_jacobian,
    symplectic_defect,
    symplectic_form,
    variational_jacobian,
    volume_defect,
)
from .resnet import RK_METHODS, resnet_unroll, rk_unroll
from .runtime import setup
from .solvers import SOLVER_METHODS, odeint
from .training import (
    TRAINING_MODES,
    FreeResNet,
    ODEClassifier,
    TrainingDiverged,
    TrainResult,
    evaluate,
    loss_gradient,
    train,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "COST_METHODS",
    "RK_METHODS",
    "SOLVER_METHODS",
    "SPLITTING_SCHEMES",
    "TANH",
    "TRAINING_MODES",
    "Dataset",
    "FeedforwardNet",
    "FreeResNet",
    "GradientCost",
    "HomogeneousField",
    "NearIdentityClassifier",
    "NearIdentityField",
    "Nonlinearity",
    "ODEClassifier",
    "Param",
    "RotationEquivariantField",
    "TimeMLP",
    "TrainResult",
    "TrainingDiverged",
    "TranslationInvariantField",
    "adjoint_momenta",
    "angular_momentum",
    "backprop_momenta",
    "below",
    "charge_drift",
    "charge_drift_profile",
    "check_dataset",
    "claims",
    "convergence_order",
    "cost_table",
    "digits_dataset",
    "euler_step_difference",
    "evaluate",
    "feedforward_layers",
    "feedforward_unroll",
    "fmt",
    "format_cost_table",
    "glue",
    "gradient_cost",
    "gradient_gain",
    "hamiltonian",
    "hamiltonian_flow",
    "jacobian_spectrum",
    "layer_gradients",
    "layer_momenta",
    "leaky_limit_closed_form",
    "leaky_relu_nonlinearity",
    "loss_gradient",
    "modified_hamiltonian",
    "moons_dataset",
    "near_identity_divergence",
    "near_identity_field",
    "near_identity_momentum_field",
    "network_phase_jacobian",
    "network_phase_map",
    "noether_charge",
    "odeint",
    "parameter_density",
    "plotting",
    "polygon_area",
    "resnet_unroll",
    "rk_unroll",
    "rotation_generator",
    "scaling_charge",
    "setup",
    "solver_gradients",
    "split_standardize",
    "splitting_unroll",
    "stable",
    "state_jacobian",
    "strong_feedforward_unroll",
    "symplectic_defect",
    "symplectic_form",
    "train",
    "train_near_identity_classifier",
    "translation_charge",
    "validate_parameters",
    "variational_jacobian",
    "volume_defect",
]
