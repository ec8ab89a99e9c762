"""ctdepth_lib — the helper library of the ctdepth book.

Deep networks as differential equations (Ruseckas, arXiv:1909.03767): the
ResNet/feedforward unrolls, momenta, Hamiltonians, invariants and convergence
fits that the chapters show, each tested against an independent reference.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the public names, for type checkers and readers; at run time they load lazily
    from . import claims, plotting
    from .bench.cost import (
        COST_METHODS,
        GradientCost,
        cost_table,
        format_cost_table,
        gradient_cost,
        start_measuring_process,
    )
    from .convergence import convergence_order
    from .data import Dataset, check_dataset, digits_dataset, moons_dataset, split_standardize
    from .feedforward import (
        SPLITTING_SCHEMES,
        euler_step_difference,
        feedforward_layers,
        feedforward_unroll,
        splitting_unroll,
        strong_feedforward_unroll,
    )
    from .fields import ACTIVATIONS, HomogeneousField, RotationEquivariantField, TimeMLP, TranslationInvariantField
    from .finite_differences import fd_momentum, fd_state_jacobian, hamiltonian_gradient_fd, hamiltonian_time_rate_fd
    from .gradients import layer_gradients, parameter_density, solver_gradients
    from .invariants import (
        angular_momentum,
        charge_drift,
        charge_drift_profile,
        noether_charge,
        relative_drift,
        rotation_generator,
        scaling_charge,
        translation_charge,
    )
    from .jacobians import (
        gradient_gain,
        jacobian_spectrum,
        log_norm,
        log_norm_integral,
        log_norm_profile,
        state_jacobian,
        step_norm_product,
    )
    from .leaky_limit import leaky_limit_closed_form
    from .models import TRAINING_MODES, FeedforwardNet, FreeResNet, NearIdentityClassifier, ODEClassifier
    from .momenta import (
        adjoint_momenta,
        backprop_momenta,
        hamiltonian,
        hamiltonian_flow,
        layer_momenta,
        modified_hamiltonian,
        tangent_unroll,
    )
    from .near_identity import (
        TANH,
        NearIdentityField,
        Nonlinearity,
        leaky_relu_nonlinearity,
        near_identity_divergence,
        near_identity_field,
        near_identity_log_norm,
        near_identity_momentum_field,
    )
    from .outputs import below, fmt, glue, stable
    from .params import Param, validate_parameters
    from .phase_space import (
        curve_area,
        network_phase_jacobian,
        network_phase_map,
        polygon_area,
        symplectic_defect,
        symplectic_form,
        variational_jacobian,
        volume_defect,
    )
    from .resnet import RK_METHODS, resnet_unroll, rk_unroll
    from .runtime import setup, start_chapter
    from .solvers import SOLVER_METHODS, odeint
    from .training import (
        RestartResult,
        TrainingDiverged,
        TrainResult,
        evaluate,
        fd_gradient,
        loss_gradient,
        restart_seeds,
        train,
        train_near_identity_classifier,
        train_restarts,
    )

# name -> (submodule, attribute or None for the submodule itself). Importing ctdepth_lib is
# instant (the command line's --help must be); torch and the rest load on first use, so
# `import ctdepth_lib as cl; cl.resnet_unroll(...)` works as before.
_LAZY: dict[str, tuple[str, str | None]] = {
    "ACTIVATIONS": ("fields", "ACTIVATIONS"),
    "COST_METHODS": ("bench.cost", "COST_METHODS"),
    "Dataset": ("data", "Dataset"),
    "FeedforwardNet": ("models", "FeedforwardNet"),
    "FreeResNet": ("models", "FreeResNet"),
    "GradientCost": ("bench.cost", "GradientCost"),
    "HomogeneousField": ("fields", "HomogeneousField"),
    "NearIdentityClassifier": ("models", "NearIdentityClassifier"),
    "NearIdentityField": ("near_identity", "NearIdentityField"),
    "Nonlinearity": ("near_identity", "Nonlinearity"),
    "ODEClassifier": ("models", "ODEClassifier"),
    "Param": ("params", "Param"),
    "RK_METHODS": ("resnet", "RK_METHODS"),
    "RestartResult": ("training", "RestartResult"),
    "RotationEquivariantField": ("fields", "RotationEquivariantField"),
    "SOLVER_METHODS": ("solvers", "SOLVER_METHODS"),
    "SPLITTING_SCHEMES": ("feedforward", "SPLITTING_SCHEMES"),
    "TANH": ("near_identity", "TANH"),
    "TRAINING_MODES": ("models", "TRAINING_MODES"),
    "TimeMLP": ("fields", "TimeMLP"),
    "TrainResult": ("training", "TrainResult"),
    "TrainingDiverged": ("training", "TrainingDiverged"),
    "TranslationInvariantField": ("fields", "TranslationInvariantField"),
    "adjoint_momenta": ("momenta", "adjoint_momenta"),
    "angular_momentum": ("invariants", "angular_momentum"),
    "backprop_momenta": ("momenta", "backprop_momenta"),
    "below": ("outputs", "below"),
    "charge_drift": ("invariants", "charge_drift"),
    "charge_drift_profile": ("invariants", "charge_drift_profile"),
    "check_dataset": ("data", "check_dataset"),
    "claims": ("claims", None),
    "convergence_order": ("convergence", "convergence_order"),
    "cost_table": ("bench.cost", "cost_table"),
    "curve_area": ("phase_space", "curve_area"),
    "digits_dataset": ("data", "digits_dataset"),
    "euler_step_difference": ("feedforward", "euler_step_difference"),
    "evaluate": ("training", "evaluate"),
    "fd_gradient": ("training", "fd_gradient"),
    "fd_momentum": ("finite_differences", "fd_momentum"),
    "fd_state_jacobian": ("finite_differences", "fd_state_jacobian"),
    "feedforward_layers": ("feedforward", "feedforward_layers"),
    "feedforward_unroll": ("feedforward", "feedforward_unroll"),
    "fmt": ("outputs", "fmt"),
    "format_cost_table": ("bench.cost", "format_cost_table"),
    "glue": ("outputs", "glue"),
    "gradient_cost": ("bench.cost", "gradient_cost"),
    "gradient_gain": ("jacobians", "gradient_gain"),
    "hamiltonian": ("momenta", "hamiltonian"),
    "hamiltonian_flow": ("momenta", "hamiltonian_flow"),
    "hamiltonian_gradient_fd": ("finite_differences", "hamiltonian_gradient_fd"),
    "hamiltonian_time_rate_fd": ("finite_differences", "hamiltonian_time_rate_fd"),
    "jacobian_spectrum": ("jacobians", "jacobian_spectrum"),
    "layer_gradients": ("gradients", "layer_gradients"),
    "layer_momenta": ("momenta", "layer_momenta"),
    "leaky_limit_closed_form": ("leaky_limit", "leaky_limit_closed_form"),
    "leaky_relu_nonlinearity": ("near_identity", "leaky_relu_nonlinearity"),
    "log_norm": ("jacobians", "log_norm"),
    "log_norm_integral": ("jacobians", "log_norm_integral"),
    "log_norm_profile": ("jacobians", "log_norm_profile"),
    "loss_gradient": ("training", "loss_gradient"),
    "modified_hamiltonian": ("momenta", "modified_hamiltonian"),
    "moons_dataset": ("data", "moons_dataset"),
    "near_identity_divergence": ("near_identity", "near_identity_divergence"),
    "near_identity_field": ("near_identity", "near_identity_field"),
    "near_identity_log_norm": ("near_identity", "near_identity_log_norm"),
    "near_identity_momentum_field": ("near_identity", "near_identity_momentum_field"),
    "network_phase_jacobian": ("phase_space", "network_phase_jacobian"),
    "network_phase_map": ("phase_space", "network_phase_map"),
    "noether_charge": ("invariants", "noether_charge"),
    "relative_drift": ("invariants", "relative_drift"),
    "odeint": ("solvers", "odeint"),
    "parameter_density": ("gradients", "parameter_density"),
    "plotting": ("plotting", None),
    "polygon_area": ("phase_space", "polygon_area"),
    "resnet_unroll": ("resnet", "resnet_unroll"),
    "restart_seeds": ("training", "restart_seeds"),
    "rk_unroll": ("resnet", "rk_unroll"),
    "rotation_generator": ("invariants", "rotation_generator"),
    "scaling_charge": ("invariants", "scaling_charge"),
    "setup": ("runtime", "setup"),
    "start_chapter": ("runtime", "start_chapter"),
    "solver_gradients": ("gradients", "solver_gradients"),
    "split_standardize": ("data", "split_standardize"),
    "splitting_unroll": ("feedforward", "splitting_unroll"),
    "stable": ("outputs", "stable"),
    "start_measuring_process": ("bench.cost", "start_measuring_process"),
    "state_jacobian": ("jacobians", "state_jacobian"),
    "step_norm_product": ("jacobians", "step_norm_product"),
    "strong_feedforward_unroll": ("feedforward", "strong_feedforward_unroll"),
    "symplectic_defect": ("phase_space", "symplectic_defect"),
    "symplectic_form": ("phase_space", "symplectic_form"),
    "tangent_unroll": ("momenta", "tangent_unroll"),
    "train": ("training", "train"),
    "train_near_identity_classifier": ("training", "train_near_identity_classifier"),
    "train_restarts": ("training", "train_restarts"),
    "translation_charge": ("invariants", "translation_charge"),
    "validate_parameters": ("params", "validate_parameters"),
    "variational_jacobian": ("phase_space", "variational_jacobian"),
    "volume_defect": ("phase_space", "volume_defect"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        # a submodule not re-exported by name (``cl.momenta``, ``cl.jacobians``, …) loads on first use too
        if name.startswith("_") or importlib.util.find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module 'ctdepth_lib' has no attribute {name!r}") from None
        module, attr = name, None
    mod = importlib.import_module(f".{module}", __name__)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "RestartResult",
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
    "curve_area",
    "digits_dataset",
    "euler_step_difference",
    "evaluate",
    "fd_gradient",
    "fd_momentum",
    "fd_state_jacobian",
    "feedforward_layers",
    "feedforward_unroll",
    "fmt",
    "format_cost_table",
    "glue",
    "gradient_cost",
    "gradient_gain",
    "hamiltonian",
    "hamiltonian_flow",
    "hamiltonian_gradient_fd",
    "hamiltonian_time_rate_fd",
    "jacobian_spectrum",
    "layer_gradients",
    "layer_momenta",
    "leaky_limit_closed_form",
    "leaky_relu_nonlinearity",
    "log_norm",
    "log_norm_integral",
    "log_norm_profile",
    "loss_gradient",
    "modified_hamiltonian",
    "moons_dataset",
    "near_identity_divergence",
    "near_identity_field",
    "near_identity_log_norm",
    "near_identity_momentum_field",
    "network_phase_jacobian",
    "network_phase_map",
    "noether_charge",
    "odeint",
    "parameter_density",
    "plotting",
    "polygon_area",
    "relative_drift",
    "resnet_unroll",
    "restart_seeds",
    "rk_unroll",
    "rotation_generator",
    "scaling_charge",
    "setup",
    "solver_gradients",
    "split_standardize",
    "splitting_unroll",
    "stable",
    "start_chapter",
    "start_measuring_process",
    "state_jacobian",
    "step_norm_product",
    "strong_feedforward_unroll",
    "symplectic_defect",
    "symplectic_form",
    "tangent_unroll",
    "train",
    "train_near_identity_classifier",
    "train_restarts",
    "translation_charge",
    "validate_parameters",
    "variational_jacobian",
    "volume_defect",
]
