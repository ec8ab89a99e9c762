"""The public names of ctdepth_lib, written once.

This stub is read twice: by type checkers (the names and their types) and, at run time, by
``lazy_loader.attach_stub`` in ``__init__.py``, which loads each name's module on first use (so
``import ctdepth_lib`` is instant and the command line's ``--help`` never imports torch). A new
public name is added here, and only here.
"""

from . import claims as claims, plotting as plotting
from .bench.cost import (
    COST_METHODS as COST_METHODS,
    GradientCost as GradientCost,
    cost_table as cost_table,
    fixed_grid_scalars as fixed_grid_scalars,
    format_cost_table as format_cost_table,
    gradient_cost as gradient_cost,
    start_measuring_process as start_measuring_process,
)
from .conv_network import (
    NearIdentityConvNet as NearIdentityConvNet,
    digit_split as digit_split,
    relative_layer_changes as relative_layer_changes,
)
from .convergence import (
    convergence_order as convergence_order,
)
from .data import (
    DataFileError as DataFileError,
    Dataset as Dataset,
    check_dataset as check_dataset,
    digits_dataset as digits_dataset,
    disc_annulus_dataset as disc_annulus_dataset,
    mnist_digits as mnist_digits,
    moons_dataset as moons_dataset,
    split_standardize as split_standardize,
)
from .feedforward import (
    SPLITTING_SCHEMES as SPLITTING_SCHEMES,
    euler_step_difference as euler_step_difference,
    feedforward_layers as feedforward_layers,
    feedforward_unroll as feedforward_unroll,
    splitting_unroll as splitting_unroll,
    strong_feedforward_unroll as strong_feedforward_unroll,
)
from .fields import (
    ACTIVATIONS as ACTIVATIONS,
    HomogeneousField as HomogeneousField,
    RotationEquivariantField as RotationEquivariantField,
    TimeMLP as TimeMLP,
    TranslationInvariantField as TranslationInvariantField,
)
from .finite_differences import (
    fd_momentum as fd_momentum,
    fd_state_jacobian as fd_state_jacobian,
    hamiltonian_gradient_fd as hamiltonian_gradient_fd,
    hamiltonian_time_rate_fd as hamiltonian_time_rate_fd,
)
from .gradients import (
    layer_gradients as layer_gradients,
    parameter_density as parameter_density,
    solver_gradients as solver_gradients,
)
from .information import (
    TRACE_METHODS as TRACE_METHODS,
    XOR_CENTRES as XOR_CENTRES,
    XOR_LABELS as XOR_LABELS,
    best_linear_accuracy as best_linear_accuracy,
    best_linear_accuracy_bounds as best_linear_accuracy_bounds,
    coarse_grained_mutual_information as coarse_grained_mutual_information,
    fold_field as fold_field,
    fold_step_mutual_information as fold_step_mutual_information,
    folded_fraction as folded_fraction,
    gaussian_mixture_bayes_accuracy as gaussian_mixture_bayes_accuracy,
    gaussian_mixture_mutual_information as gaussian_mixture_mutual_information,
    knn_entropy as knn_entropy,
    knn_mutual_information as knn_mutual_information,
    linear_readout_accuracy as linear_readout_accuracy,
    log_density_change as log_density_change,
    xor_blobs as xor_blobs,
    xor_mixture as xor_mixture,
)
from .invariants import (
    angular_momentum as angular_momentum,
    charge_drift as charge_drift,
    charge_drift_profile as charge_drift_profile,
    noether_charge as noether_charge,
    relative_drift as relative_drift,
    rotation_generator as rotation_generator,
    scaling_charge as scaling_charge,
    translation_charge as translation_charge,
)
from .jacobians import (
    gradient_gain as gradient_gain,
    jacobian_spectrum as jacobian_spectrum,
    log_norm as log_norm,
    log_norm_integral as log_norm_integral,
    log_norm_profile as log_norm_profile,
    state_jacobian as state_jacobian,
    step_norm_product as step_norm_product,
)
from .lagrange import (
    action as action,
    control_gradient as control_gradient,
    control_gradient_fd as control_gradient_fd,
    euler_lagrange_residuals as euler_lagrange_residuals,
    lagrangian as lagrangian,
)
from .leaky_limit import (
    leaky_limit_closed_form as leaky_limit_closed_form,
)
from .models import (
    TRAINING_MODES as TRAINING_MODES,
    FeedforwardNet as FeedforwardNet,
    FreeResNet as FreeResNet,
    NearIdentityClassifier as NearIdentityClassifier,
    ODEClassifier as ODEClassifier,
)
from .momenta import (
    adjoint_momenta as adjoint_momenta,
    backprop_momenta as backprop_momenta,
    hamiltonian as hamiltonian,
    hamiltonian_flow as hamiltonian_flow,
    layer_momenta as layer_momenta,
    modified_hamiltonian as modified_hamiltonian,
    tangent_unroll as tangent_unroll,
)
from .near_identity import (
    TANH as TANH,
    NearIdentityField as NearIdentityField,
    Nonlinearity as Nonlinearity,
    cubic_nonlinearity as cubic_nonlinearity,
    leaky_relu_nonlinearity as leaky_relu_nonlinearity,
    near_identity_divergence as near_identity_divergence,
    near_identity_field as near_identity_field,
    near_identity_log_norm as near_identity_log_norm,
    near_identity_momentum_field as near_identity_momentum_field,
)
from .outputs import (
    below as below,
    fmt as fmt,
    glue as glue,
    stable as stable,
)
from .params import (
    Param as Param,
    validate_parameters as validate_parameters,
)
from .phase_space import (
    curve_area as curve_area,
    network_phase_jacobian as network_phase_jacobian,
    network_phase_map as network_phase_map,
    polygon_area as polygon_area,
    symplectic_defect as symplectic_defect,
    symplectic_form as symplectic_form,
    variational_jacobian as variational_jacobian,
    volume_defect as volume_defect,
)
from .resnet import (
    RK_METHODS as RK_METHODS,
    resnet_unroll as resnet_unroll,
    rk_unroll as rk_unroll,
)
from .runtime import (
    setup as setup,
    start_chapter as start_chapter,
)
from .solvers import (
    SOLVER_METHODS as SOLVER_METHODS,
    odeint as odeint,
)
from .topology import (
    FoldSummary as FoldSummary,
    FreeLayerClassifier as FreeLayerClassifier,
    FreeLayerTraining as FreeLayerTraining,
    PiecewiseConstantField as PiecewiseConstantField,
    circle_image as circle_image,
    disc_grid as disc_grid,
    error_by_distance as error_by_distance,
    fold_summary as fold_summary,
    layer_jacobian_dets as layer_jacobian_dets,
    nearest_distance as nearest_distance,
    train_free_layer_classifier as train_free_layer_classifier,
    winding_number as winding_number,
)
from .training import (
    RestartResult as RestartResult,
    TrainingDiverged as TrainingDiverged,
    TrainResult as TrainResult,
    evaluate as evaluate,
    fd_gradient as fd_gradient,
    loss_gradient as loss_gradient,
    restart_seeds as restart_seeds,
    train as train,
    train_near_identity_classifier as train_near_identity_classifier,
    train_restarts as train_restarts,
)

__version__: str
