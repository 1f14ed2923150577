"""gpunet's optimizers against an independent float64 NumPy transcription of PyTorch's documented algorithms.

gpunet's defaults are Keras 3's: every gpunet optimizer here is made with PyTorch's defaults passed
explicitly (:func:`torch_style`), which is how a user gets PyTorch's behaviour.

The reference classes below are written from the pseudo-code in PyTorch's documentation for
torch.optim.{SGD, Adagrad, Adadelta, Adam, AdamW, Adamax, NAdam, RAdam, RMSprop}; they do not look at
gpunet's code. Names follow the docs: ``gamma`` the learning rate, ``lam`` the weight decay, ``t`` the
1-based step count of a parameter.

Two places where PyTorch's pseudo-code has been written two ways, and the form used here:
* AMSGrad (Adam, AdamW): the running maximum is taken of the raw second moment v_t and then bias
  corrected, ``v_max = max(v_max, v_t); denom = sqrt(v_max / (1 - beta_2**t)) + eps`` -- what
  torch.optim computes and what its current docs write (older docs wrote max over v_hat).
* RAdam: ``l_t = sqrt(1 - beta_2**t) / (sqrt(v_t) + eps)`` (current docs and torch.optim).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpunet import Parameter, backend, optimizers, schedules

RTOL, ATOL = 1e-10, 1e-12
SHAPES = {"layer/kernel": (3, 4), "layer/bias": (5,)}
N_STEPS = 60


# --------------------------------------------------------------------------------------------------
# Reference implementations (float64, one state dict per parameter name)
# --------------------------------------------------------------------------------------------------


class _Reference:
    def __init__(self, learning_rate):
        self.learning_rate = learning_rate  # a float, or a callable of the 0-based global step
        self.iterations = 0
        self.state: dict[str, dict] = {}

    def lr(self):
        if callable(self.learning_rate):
            return float(self.learning_rate(self.iterations))
        return float(self.learning_rate)

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]):
        gamma = self.lr()
        for name, theta in params.items():
            st = self.state.setdefault(name, {"t": 0})
            st["t"] += 1
            g = np.array(grads[name], dtype=np.float64, copy=True)
            params[name] = self.update(theta.astype(np.float64), g, st, gamma)
        self.iterations += 1


class RefSGD(_Reference):
    def __init__(self, learning_rate=0.01, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(learning_rate)
        self.mu, self.tau, self.nesterov, self.lam = momentum, dampening, nesterov, weight_decay

    def update(self, theta, g, st, gamma):
        if self.lam != 0:
            g = g + self.lam * theta
        if self.mu != 0:
            if st["t"] > 1:
                st["b"] = self.mu * st["b"] + (1 - self.tau) * g
            else:
                st["b"] = g.copy()
            if self.nesterov:
                g = g + self.mu * st["b"]
            else:
                g = st["b"]
        return theta - gamma * g


class RefAdagrad(_Reference):
    def __init__(self, learning_rate=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 epsilon=1e-10):
        super().__init__(learning_rate)
        self.eta, self.lam, self.tau, self.eps = lr_decay, weight_decay, initial_accumulator_value, epsilon

    def update(self, theta, g, st, gamma):
        if "sum" not in st:
            st["sum"] = np.full_like(theta, self.tau)
        clr = gamma / (1 + (st["t"] - 1) * self.eta)
        if self.lam != 0:
            g = g + self.lam * theta
        st["sum"] = st["sum"] + g * g
        return theta - clr * g / (np.sqrt(st["sum"]) + self.eps)


class RefAdadelta(_Reference):
    def __init__(self, learning_rate=1.0, rho=0.9, epsilon=1e-6, weight_decay=0.0):
        super().__init__(learning_rate)
        self.rho, self.eps, self.lam = rho, epsilon, weight_decay

    def update(self, theta, g, st, gamma):
        if "v" not in st:
            st["v"] = np.zeros_like(theta)  # square avg
            st["u"] = np.zeros_like(theta)  # accumulated update
        if self.lam != 0:
            g = g + self.lam * theta
        st["v"] = self.rho * st["v"] + (1 - self.rho) * g * g
        dx = np.sqrt(st["u"] + self.eps) / np.sqrt(st["v"] + self.eps) * g
        st["u"] = self.rho * st["u"] + (1 - self.rho) * dx * dx
        return theta - gamma * dx


class RefAdam(_Reference):
    decoupled = False

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.0,
                 amsgrad=False):
        super().__init__(learning_rate)
        self.b1, self.b2, self.eps, self.lam, self.amsgrad = beta_1, beta_2, epsilon, weight_decay, amsgrad

    def update(self, theta, g, st, gamma):
        t = st["t"]
        if "m" not in st:
            st["m"] = np.zeros_like(theta)
            st["v"] = np.zeros_like(theta)
            st["vmax"] = np.zeros_like(theta)
        if self.lam != 0:
            if self.decoupled:
                theta = theta - gamma * self.lam * theta
            else:
                g = g + self.lam * theta
        st["m"] = self.b1 * st["m"] + (1 - self.b1) * g
        st["v"] = self.b2 * st["v"] + (1 - self.b2) * g * g
        m_hat = st["m"] / (1 - self.b1 ** t)
        if self.amsgrad:
            st["vmax"] = np.maximum(st["vmax"], st["v"])
            v_hat = st["vmax"] / (1 - self.b2 ** t)
        else:
            v_hat = st["v"] / (1 - self.b2 ** t)
        return theta - gamma * m_hat / (np.sqrt(v_hat) + self.eps)


class RefAdamW(RefAdam):
    decoupled = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.01,
                 amsgrad=False):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, amsgrad)


class RefAdamax(_Reference):
    def __init__(self, learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.0):
        super().__init__(learning_rate)
        self.b1, self.b2, self.eps, self.lam = beta_1, beta_2, epsilon, weight_decay

    def update(self, theta, g, st, gamma):
        if "m" not in st:
            st["m"] = np.zeros_like(theta)
            st["u"] = np.zeros_like(theta)
        if self.lam != 0:
            g = g + self.lam * theta
        st["m"] = self.b1 * st["m"] + (1 - self.b1) * g
        st["u"] = np.maximum(self.b2 * st["u"], np.abs(g) + self.eps)
        return theta - gamma * st["m"] / ((1 - self.b1 ** st["t"]) * st["u"])


class RefNadam(_Reference):
    def __init__(self, learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.0,
                 momentum_decay=0.004):
        super().__init__(learning_rate)
        self.b1, self.b2, self.eps, self.lam, self.psi = beta_1, beta_2, epsilon, weight_decay, momentum_decay

    def mu(self, t):
        return self.b1 * (1 - 0.5 * 0.96 ** (t * self.psi))

    def update(self, theta, g, st, gamma):
        t = st["t"]
        if "m" not in st:
            st["m"] = np.zeros_like(theta)
            st["v"] = np.zeros_like(theta)
        if self.lam != 0:
            g = g + self.lam * theta
        mu_t, mu_next = self.mu(t), self.mu(t + 1)
        prod_t = math.prod(self.mu(i) for i in range(1, t + 1))
        prod_next = prod_t * mu_next
        st["m"] = self.b1 * st["m"] + (1 - self.b1) * g
        st["v"] = self.b2 * st["v"] + (1 - self.b2) * g * g
        m_hat = mu_next * st["m"] / (1 - prod_next) + (1 - mu_t) * g / (1 - prod_t)
        v_hat = st["v"] / (1 - self.b2 ** t)
        return theta - gamma * m_hat / (np.sqrt(v_hat) + self.eps)


class RefRAdam(_Reference):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.0):
        super().__init__(learning_rate)
        self.b1, self.b2, self.eps, self.lam = beta_1, beta_2, epsilon, weight_decay
        self.rho_inf = 2 / (1 - beta_2) - 1
        self.branches: list[bool] = []  # True where the step was rectified

    def update(self, theta, g, st, gamma):
        t = st["t"]
        if "m" not in st:
            st["m"] = np.zeros_like(theta)
            st["v"] = np.zeros_like(theta)
        if self.lam != 0:
            g = g + self.lam * theta
        st["m"] = self.b1 * st["m"] + (1 - self.b1) * g
        st["v"] = self.b2 * st["v"] + (1 - self.b2) * g * g
        m_hat = st["m"] / (1 - self.b1 ** t)
        rho_t = self.rho_inf - 2 * t * self.b2 ** t / (1 - self.b2 ** t)
        self.branches.append(rho_t > 5)
        if rho_t > 5:
            l_t = math.sqrt(1 - self.b2 ** t) / (np.sqrt(st["v"]) + self.eps)
            r_t = math.sqrt((rho_t - 4) * (rho_t - 2) * self.rho_inf
                            / ((self.rho_inf - 4) * (self.rho_inf - 2) * rho_t))
            return theta - gamma * m_hat * r_t * l_t
        return theta - gamma * m_hat


class RefRMSprop(_Reference):
    def __init__(self, learning_rate=0.01, rho=0.99, epsilon=1e-8, momentum=0.0, centered=False, weight_decay=0.0):
        super().__init__(learning_rate)
        self.alpha, self.eps, self.mu, self.centered, self.lam = rho, epsilon, momentum, centered, weight_decay

    def update(self, theta, g, st, gamma):
        if "v" not in st:
            st["v"] = np.zeros_like(theta)
            st["g_ave"] = np.zeros_like(theta)
            st["b"] = np.zeros_like(theta)
        if self.lam != 0:
            g = g + self.lam * theta
        st["v"] = self.alpha * st["v"] + (1 - self.alpha) * g * g
        v_tilde = st["v"]
        if self.centered:
            st["g_ave"] = self.alpha * st["g_ave"] + (1 - self.alpha) * g
            v_tilde = v_tilde - st["g_ave"] ** 2
        if self.mu > 0:
            st["b"] = self.mu * st["b"] + g / (np.sqrt(v_tilde) + self.eps)
            return theta - gamma * st["b"]
        return theta - gamma * g / (np.sqrt(v_tilde) + self.eps)


# PyTorch's defaults where gpunet's (Keras 3's) differ: what a user passes to get torch.optim's behaviour
TORCH_DEFAULTS = {
    "SGD": {},
    "Adagrad": {"learning_rate": 0.01, "initial_accumulator_value": 0.0, "epsilon": 1e-10},
    "Adadelta": {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-6},
    "Adam": {"epsilon": 1e-8},
    "AdamW": {"epsilon": 1e-8, "weight_decay": 0.01},
    "Adamax": {"learning_rate": 0.002, "epsilon": 1e-8},
    "Nadam": {"learning_rate": 0.002, "epsilon": 1e-8, "momentum_decay": 0.004},
    "RAdam": {"epsilon": 1e-8},
    "RMSprop": {"learning_rate": 0.01, "rho": 0.99, "epsilon": 1e-8, "epsilon_inside_sqrt": False},
}


def torch_style(cls_name, **kwargs):
    """gpunet's optimizer ``cls_name`` with PyTorch's defaults for the arguments not in ``kwargs``."""
    return getattr(optimizers, cls_name)(**{**TORCH_DEFAULTS[cls_name], **kwargs})


REFERENCES = {
    "SGD": RefSGD, "Adagrad": RefAdagrad, "Adadelta": RefAdadelta, "Adam": RefAdam, "AdamW": RefAdamW,
    "Adamax": RefAdamax, "Nadam": RefNadam, "RAdam": RefRAdam, "RMSprop": RefRMSprop,
}


# --------------------------------------------------------------------------------------------------
# Configurations: every optimizer, every option
# --------------------------------------------------------------------------------------------------

CASES = [
    ("SGD", {"learning_rate": 0.05}, "sgd-plain"),
    ("SGD", {"learning_rate": 0.02, "momentum": 0.9}, "sgd-momentum"),
    ("SGD", {"learning_rate": 0.02, "momentum": 0.9, "dampening": 0.3}, "sgd-momentum-dampening"),
    ("SGD", {"learning_rate": 0.02, "momentum": 0.8, "nesterov": True}, "sgd-nesterov"),
    ("SGD", {"learning_rate": 0.05, "weight_decay": 0.1}, "sgd-weight_decay"),
    ("SGD", {"learning_rate": 0.02, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.05},
     "sgd-momentum-dampening-weight_decay"),
    ("SGD", {"learning_rate": 0.02, "momentum": 0.7, "nesterov": True, "weight_decay": 0.05},
     "sgd-nesterov-weight_decay"),
    ("Adagrad", {"learning_rate": 0.1}, "adagrad-plain"),
    ("Adagrad", {"learning_rate": 0.1, "lr_decay": 0.05}, "adagrad-lr_decay"),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5}, "adagrad-initial_accumulator"),
    ("Adagrad", {"learning_rate": 0.1, "weight_decay": 0.1}, "adagrad-weight_decay"),
    ("Adagrad", {"learning_rate": 0.1, "lr_decay": 0.01, "weight_decay": 0.05, "initial_accumulator_value": 0.1,
                 "epsilon": 1e-6}, "adagrad-all"),
    ("Adadelta", {}, "adadelta-default"),
    ("Adadelta", {"learning_rate": 0.5, "rho": 0.8, "epsilon": 1e-4}, "adadelta-rho-epsilon"),
    ("Adadelta", {"learning_rate": 1.0, "weight_decay": 0.1}, "adadelta-weight_decay"),
    ("Adam", {"learning_rate": 0.01}, "adam-plain"),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}, "adam-amsgrad"),
    ("Adam", {"learning_rate": 0.01, "weight_decay": 0.1}, "adam-weight_decay"),
    ("Adam", {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True}, "adam-amsgrad-weight_decay"),
    ("Adam", {"learning_rate": 0.02, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-6}, "adam-betas-epsilon"),
    ("AdamW", {"learning_rate": 0.01}, "adamw-default_decay"),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.2}, "adamw-weight_decay"),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.2, "amsgrad": True}, "adamw-amsgrad"),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.0}, "adamw-no_decay"),
    ("Adamax", {"learning_rate": 0.01}, "adamax-plain"),
    ("Adamax", {"learning_rate": 0.01, "weight_decay": 0.1}, "adamax-weight_decay"),
    ("Adamax", {"learning_rate": 0.02, "beta_1": 0.7, "beta_2": 0.95, "epsilon": 1e-5}, "adamax-betas-epsilon"),
    ("Nadam", {"learning_rate": 0.01}, "nadam-plain"),
    ("Nadam", {"learning_rate": 0.01, "weight_decay": 0.1}, "nadam-weight_decay"),
    ("Nadam", {"learning_rate": 0.01, "momentum_decay": 0.05}, "nadam-momentum_decay"),
    ("Nadam", {"learning_rate": 0.01, "momentum_decay": 0.0, "beta_2": 0.99}, "nadam-no_momentum_decay"),
    ("RAdam", {"learning_rate": 0.01}, "radam-plain"),
    ("RAdam", {"learning_rate": 0.01, "weight_decay": 0.1}, "radam-weight_decay"),
    ("RAdam", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99}, "radam-beta_2_0.99"),
    ("RMSprop", {"learning_rate": 0.01}, "rmsprop-plain"),
    ("RMSprop", {"learning_rate": 0.01, "centered": True}, "rmsprop-centered"),
    ("RMSprop", {"learning_rate": 0.005, "momentum": 0.9}, "rmsprop-momentum"),
    ("RMSprop", {"learning_rate": 0.005, "momentum": 0.9, "centered": True}, "rmsprop-centered-momentum"),
    ("RMSprop", {"learning_rate": 0.01, "weight_decay": 0.1}, "rmsprop-weight_decay"),
    ("RMSprop", {"learning_rate": 0.005, "rho": 0.9, "epsilon": 1e-6, "momentum": 0.5, "centered": True,
                 "weight_decay": 0.05}, "rmsprop-all"),
]
CASE_PARAMS = [pytest.param(cls, kw, id=i) for cls, kw, i in CASES]
ALL_OPTIMIZERS = list(REFERENCES)


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------

def initial_values(dtype=np.float64):
    rng = np.random.default_rng(7)
    return {name: rng.uniform(-1.5, 1.5, shape).astype(dtype) for name, shape in SHAPES.items()}


def gradient_sequence(n=N_STEPS, seed=2024):
    """Seeded gradients whose magnitude varies step to step (1e-3 .. 50) and element to element."""
    rng = np.random.default_rng(seed)
    scales = [1.0, 0.01, 5.0, 1e-3, 50.0, 0.3, 2.0]
    elem = {name: 10.0 ** rng.uniform(-1.5, 1.0, shape) for name, shape in SHAPES.items()}
    seq = []
    for t in range(n):
        s = scales[t % len(scales)]
        step = {name: rng.standard_normal(shape) * elem[name] * s for name, shape in SHAPES.items()}
        if t == 10:  # one gradient with exact zeros in it
            step["layer/bias"][[0, 3]] = 0.0
        seq.append(step)
    return seq


def make_params(values):
    return {name: Parameter(np.array(v, copy=True), name=name) for name, v in values.items()}


def apply(opt, params, grads):
    opt.apply_gradients([(grads[name], params[name]) for name in params])


def assert_params_close(params, expected, step):
    for name, p in params.items():
        np.testing.assert_allclose(backend.to_host(p.data), expected[name], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{name} after step {step}")


# --------------------------------------------------------------------------------------------------
# 1. Long runs against the reference, every option
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls_name, kwargs", CASE_PARAMS)
def test_matches_reference_every_step(cls_name, kwargs):
    opt = torch_style(cls_name, **kwargs)
    ref = REFERENCES[cls_name](**kwargs)
    params = make_params(initial_values())
    expected = initial_values()
    for t, grads in enumerate(gradient_sequence(), start=1):
        before = {n: g.copy() for n, g in grads.items()}
        apply(opt, params, grads)
        ref.step(expected, grads)
        for name in grads:  # the caller's gradient arrays are not modified
            np.testing.assert_array_equal(grads[name], before[name], err_msg=f"gradient {name} mutated at {t}")
        assert_params_close(params, expected, t)
    for name, p in params.items():
        assert p.data.dtype == np.float64
        assert not np.allclose(backend.to_host(p.data), initial_values()[name])  # it really moved


@pytest.mark.parametrize("kwargs", [
    pytest.param({"learning_rate": 0.01}, id="beta_2_0.999"),
    pytest.param({"learning_rate": 0.01, "beta_2": 0.99}, id="beta_2_0.99"),
])
def test_radam_covers_both_branches(kwargs):
    ref = RefRAdam(**kwargs)
    expected = initial_values()
    opt = torch_style("RAdam", **kwargs)
    params = make_params(initial_values())
    for t, grads in enumerate(gradient_sequence(), start=1):
        apply(opt, params, grads)
        ref.step(expected, grads)
        assert_params_close(params, expected, t)
    flags = ref.branches[::len(SHAPES)]  # one flag per step (same t for both parameters)
    assert not any(flags[:4]), "the first steps must be un-rectified (rho_t <= 5)"
    assert all(flags[-50:]), "later steps must be rectified (rho_t > 5)"


# --------------------------------------------------------------------------------------------------
# 2. Hand-computed first and second steps
#
# Every expected value below is written from the algorithm with literal numbers (worked out in the
# comments); none is derived from gpunet's output or from the reference classes above.
# --------------------------------------------------------------------------------------------------

def _one(opt, p, g):
    """One optimizer step on ``p``; returns a copy of the parameter after it."""
    opt.apply_gradients([(np.array(g, dtype=np.float64), p)])
    return backend.to_host(p.data).copy()


def test_sgd_momentum_by_hand():
    p = Parameter(np.array([1.0, -2.0]), name="w")
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    # step 1, g1 = [0.5, 1.0]: buffer b1 = g1; theta1 = [1 - 0.05, -2 - 0.1] = [0.95, -2.1]
    np.testing.assert_allclose(_one(opt, p, [0.5, 1.0]), [0.95, -2.1], rtol=1e-14)
    # step 2, g2 = [1.0, -1.0]: b2 = 0.9 * b1 + g2 = [0.45 + 1.0, 0.9 - 1.0] = [1.45, -0.1]
    # theta2 = theta1 - 0.1 * b2 = [0.95 - 0.145, -2.1 + 0.01] = [0.805, -2.09]
    np.testing.assert_allclose(_one(opt, p, [1.0, -1.0]), [0.805, -2.09], rtol=1e-14)


def test_sgd_momentum_dampening_by_hand():
    p = Parameter(np.array([1.0, -2.0]), name="w")
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9, dampening=0.5)
    # step 1: no dampening on the first step, b1 = g1 = [0.5, 1.0]; theta1 = [0.95, -2.1]
    np.testing.assert_allclose(_one(opt, p, [0.5, 1.0]), [0.95, -2.1], rtol=1e-14)
    # step 2: b2 = 0.9 * b1 + (1 - 0.5) * g2 = [0.45 + 0.5, 0.9 - 0.5] = [0.95, 0.4]
    # theta2 = [0.95 - 0.095, -2.1 - 0.04] = [0.855, -2.14]
    np.testing.assert_allclose(_one(opt, p, [1.0, -1.0]), [0.855, -2.14], rtol=1e-14)


def test_sgd_nesterov_by_hand():
    p = Parameter(np.array([1.0, -2.0]), name="w")
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    # step 1: b1 = g1 = [0.5, 1.0]; direction g1 + 0.9 * b1 = 1.9 * g1 = [0.95, 1.9]
    # theta1 = [1 - 0.095, -2 - 0.19] = [0.905, -2.19]
    np.testing.assert_allclose(_one(opt, p, [0.5, 1.0]), [0.905, -2.19], rtol=1e-14)
    # step 2: b2 = 0.9 * [0.5, 1.0] + [1.0, -1.0] = [1.45, -0.1]; direction g2 + 0.9 * b2 = [2.305, -1.09]
    # theta2 = [0.905 - 0.2305, -2.19 + 0.109] = [0.6745, -2.081]
    np.testing.assert_allclose(_one(opt, p, [1.0, -1.0]), [0.6745, -2.081], rtol=1e-14)


def test_adagrad_by_hand():
    p = Parameter(np.array([1.0, -2.0]), name="w")
    opt = torch_style("Adagrad", learning_rate=0.1)  # epsilon = 1e-10, no initial accumulator
    # step 1, g1 = [3, -4]: sum = [9, 16]; theta1 = theta0 - 0.1 * g1 / (sqrt(sum) + eps)
    #   = [1 - 0.1 * 3 / (3 + 1e-10), -2 + 0.1 * 4 / (4 + 1e-10)] ~ [0.9, -1.9]
    np.testing.assert_allclose(_one(opt, p, [3.0, -4.0]),
                               [1.0 - 0.1 * 3.0 / (3.0 + 1e-10), -2.0 + 0.1 * 4.0 / (4.0 + 1e-10)], rtol=1e-14)
    # step 2, g2 = [4, 3]: sum = [9 + 16, 16 + 9] = [25, 25]; theta2 = theta1 - 0.1 * [4, 3] / (5 + eps)
    #   ~ [0.9 - 0.08, -1.9 - 0.06] = [0.82, -1.96]
    np.testing.assert_allclose(
        _one(opt, p, [4.0, 3.0]),
        [1.0 - 0.1 * 3.0 / (3.0 + 1e-10) - 0.1 * 4.0 / (5.0 + 1e-10),
         -2.0 + 0.1 * 4.0 / (4.0 + 1e-10) - 0.1 * 3.0 / (5.0 + 1e-10)],
        rtol=1e-14,
    )
    np.testing.assert_allclose(backend.to_host(p.data), [0.82, -1.96], rtol=1e-9)  # eps moves it by ~1e-11


def test_adagrad_lr_decay_and_initial_accumulator_by_hand():
    p = Parameter(np.array([0.5]), name="w")
    opt = torch_style("Adagrad", learning_rate=0.1, lr_decay=0.5, initial_accumulator_value=7.0)  # epsilon = 1e-10
    # step 1: clr = 0.1 / (1 + 0 * 0.5) = 0.1; sum = 7 + 3^2 = 16; theta1 = 0.5 - 0.1 * 3 / (4 + eps) ~ 0.425
    np.testing.assert_allclose(_one(opt, p, [3.0]), [0.5 - 0.1 * 3.0 / (4.0 + 1e-10)], rtol=1e-14)
    # step 2: clr = 0.1 / (1 + 1 * 0.5) = 0.1 / 1.5; sum = 16 + 9 = 25; theta2 = theta1 - clr * 3 / (5 + eps)
    #   ~ 0.425 - 0.04 = 0.385
    np.testing.assert_allclose(_one(opt, p, [3.0]),
                               [0.5 - 0.1 * 3.0 / (4.0 + 1e-10) - (0.1 / 1.5) * 3.0 / (5.0 + 1e-10)], rtol=1e-14)
    np.testing.assert_allclose(backend.to_host(p.data), [0.385], rtol=1e-9)


def test_adam_by_hand():
    p = Parameter(np.array([1.0, -2.0]), name="w")
    opt = torch_style("Adam", learning_rate=0.01)  # beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-8
    # step 1, g1 = [0.5, -2.0]: m1 = 0.1 * g1 = [0.05, -0.2]; v1 = 0.001 * g1^2 = [0.00025, 0.004]
    # m_hat = m1 / (1 - 0.9) = g1; v_hat = v1 / (1 - 0.999) = g1^2
    # theta1 = theta0 - 0.01 * g1 / (|g1| + 1e-8) ~ theta0 - 0.01 * sign(g1) = [0.99, -1.99]
    step1 = _one(opt, p, [0.5, -2.0])
    np.testing.assert_allclose(step1, [1.0 - 0.01 * 0.5 / (0.5 + 1e-8), -2.0 + 0.01 * 2.0 / (2.0 + 1e-8)], rtol=1e-13)
    np.testing.assert_allclose(step1, [0.99, -1.99], rtol=1e-9)  # eps moves it by ~2e-10
    # step 2, g2 = [1.0, 1.0]:
    # m2 = 0.9 * [0.05, -0.2] + 0.1 * [1, 1] = [0.145, -0.08]
    # v2 = 0.999 * [0.00025, 0.004] + 0.001 * [1, 1] = [0.00124975, 0.004996]
    # m_hat = m2 / (1 - 0.9^2) = m2 / 0.19 = [0.76315789, -0.42105263]
    # v_hat = v2 / (1 - 0.999^2) = v2 / 0.001999 = [0.62518759, 2.49924962]; sqrt = [0.79068805, 1.58090152]
    # theta2 = theta1 - 0.01 * m_hat / (sqrt(v_hat) + 1e-8) = [0.98034818, -1.98733663]
    np.testing.assert_allclose(
        _one(opt, p, [1.0, 1.0]),
        [1.0 - 0.01 * 0.5 / (0.5 + 1e-8) - 0.01 * (0.145 / 0.19) / (math.sqrt(0.00124975 / 0.001999) + 1e-8),
         -2.0 + 0.01 * 2.0 / (2.0 + 1e-8) - 0.01 * (-0.08 / 0.19) / (math.sqrt(0.004996 / 0.001999) + 1e-8)],
        rtol=1e-13,
    )
    np.testing.assert_allclose(backend.to_host(p.data), [0.98034818, -1.98733663], rtol=1e-8)


def test_adam_amsgrad_by_hand():
    p = Parameter(np.array([1.0]), name="w")
    opt = torch_style("Adam", learning_rate=0.01, amsgrad=True)  # epsilon = 1e-8
    # step 1, g = 2: m = 0.2, v = 0.004 = v_max; m_hat = 2, v_hat = 4 -> theta1 = 1 - 0.01 * 2 / (2 + eps) ~ 0.99
    np.testing.assert_allclose(_one(opt, p, [2.0]), [1.0 - 0.01 * 2.0 / (2.0 + 1e-8)], rtol=1e-13)
    # step 2, g = 0: m = 0.18, v = 0.999 * 0.004 = 0.003996 < v_max = 0.004 -> v_max stays 0.004
    # m_hat = 0.18 / 0.19; v_hat = 0.004 / 0.001999 (max of raw v, then bias-corrected, as torch computes)
    # theta2 = theta1 - 0.01 * 0.94736842 / (1.41456725 + eps) = 0.98330277
    # (without AMSGrad, v_hat = 0.003996 / 0.001999 would give 0.98329942)
    np.testing.assert_allclose(
        _one(opt, p, [0.0]),
        [1.0 - 0.01 * 2.0 / (2.0 + 1e-8) - 0.01 * (0.18 / 0.19) / (math.sqrt(0.004 / 0.001999) + 1e-8)],
        rtol=1e-13,
    )
    np.testing.assert_allclose(backend.to_host(p.data), [0.98330277], rtol=1e-8)


# --------------------------------------------------------------------------------------------------
# 3. float32 stays float32; updates are in place
# --------------------------------------------------------------------------------------------------

F32_CASES = [
    pytest.param("SGD", {"learning_rate": 0.02, "momentum": 0.9, "weight_decay": 0.01}, id="SGD"),
    pytest.param("SGD", {"learning_rate": 0.02, "momentum": 0.9, "nesterov": True}, id="SGD-nesterov"),
    pytest.param("Adagrad", {"learning_rate": 0.1, "lr_decay": 0.01, "weight_decay": 0.01}, id="Adagrad"),
    pytest.param("Adadelta", {"weight_decay": 0.01}, id="Adadelta"),
    pytest.param("Adam", {"learning_rate": 0.01, "weight_decay": 0.01}, id="Adam"),
    pytest.param("Adam", {"learning_rate": 0.01, "amsgrad": True}, id="Adam-amsgrad"),
    pytest.param("AdamW", {"learning_rate": 0.01, "amsgrad": True}, id="AdamW"),
    pytest.param("Adamax", {"learning_rate": 0.01, "weight_decay": 0.01}, id="Adamax"),
    pytest.param("Nadam", {"learning_rate": 0.01, "weight_decay": 0.01}, id="Nadam"),
    pytest.param("RAdam", {"learning_rate": 0.01, "weight_decay": 0.01}, id="RAdam"),
    pytest.param("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.01},
                 id="RMSprop"),
]


@pytest.mark.parametrize("grad_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls_name, kwargs", F32_CASES)
def test_float32_kept_and_in_place(cls_name, kwargs, grad_dtype):
    opt = torch_style(cls_name, **kwargs)
    ref = REFERENCES[cls_name](**kwargs)
    params = make_params(initial_values(np.float32))
    expected = {n: v.astype(np.float64) for n, v in initial_values(np.float32).items()}
    arrays = {n: p.data for n, p in params.items()}
    ids = {n: id(p.data) for n, p in params.items()}
    scaled = [{n: (g / np.max(np.abs(g))) for n, g in step.items()} for step in gradient_sequence(8)]
    for t, grads in enumerate(scaled, start=1):
        apply(opt, params, {n: g.astype(grad_dtype) for n, g in grads.items()})
        ref.step(expected, {n: g.astype(grad_dtype).astype(np.float64) for n, g in grads.items()})
        for name, p in params.items():
            assert p.data.dtype == np.float32, f"{name} became {p.data.dtype} at step {t}"
            assert p.data is arrays[name] and id(p.data) == ids[name], f"{name} replaced, not updated in place"
    for name, p in params.items():
        assert not np.array_equal(backend.to_host(p.data), initial_values(np.float32)[name])
        np.testing.assert_allclose(backend.to_host(p.data), expected[name], rtol=2e-4, atol=2e-5)


def test_float64_update_in_place():
    params = make_params(initial_values())
    arrays = {n: p.data for n, p in params.items()}
    opt = optimizers.Adam(learning_rate=0.01)
    for grads in gradient_sequence(3):
        apply(opt, params, grads)
    for name, p in params.items():
        assert p.data is arrays[name]


# --------------------------------------------------------------------------------------------------
# 4. get_state / set_state
# --------------------------------------------------------------------------------------------------

STATE_CASES = [
    pytest.param("SGD", {"learning_rate": 0.02, "momentum": 0.9, "dampening": 0.1}, id="SGD-momentum"),
    pytest.param("Adagrad", {"learning_rate": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.2},
                 id="Adagrad"),
    pytest.param("Adadelta", {"rho": 0.8}, id="Adadelta"),
    pytest.param("Adam", {"learning_rate": 0.01}, id="Adam"),
    pytest.param("Adam", {"learning_rate": 0.01, "amsgrad": True}, id="Adam-amsgrad"),
    pytest.param("AdamW", {"learning_rate": 0.01, "amsgrad": True, "weight_decay": 0.1}, id="AdamW-amsgrad"),
    pytest.param("Adamax", {"learning_rate": 0.01}, id="Adamax"),
    pytest.param("Nadam", {"learning_rate": 0.01}, id="Nadam"),
    pytest.param("RAdam", {"learning_rate": 0.01}, id="RAdam"),
    pytest.param("RMSprop", {"learning_rate": 0.01, "momentum": 0.9, "centered": True}, id="RMSprop"),
]


@pytest.mark.parametrize("cls_name, kwargs", STATE_CASES)
def test_state_round_trip_is_bitwise(cls_name, kwargs):
    seq = gradient_sequence(20)
    params_a = make_params(initial_values())
    opt_a = torch_style(cls_name, **kwargs)
    for grads in seq[:10]:
        apply(opt_a, params_a, grads)

    state = opt_a.get_state()
    assert set(state["slots"]) == set(SHAPES), f"slot keys must be parameter names, got {list(state['slots'])}"
    assert all(isinstance(k, str) for k in state["slots"])

    # a fresh optimizer and fresh Parameter objects (same names, same values): nothing shared but the state
    params_b = {n: Parameter(p.data.copy(), name=n) for n, p in params_a.items()}
    opt_b = torch_style(cls_name, **kwargs)
    opt_b.set_state(state)

    for grads in seq[10:]:
        apply(opt_a, params_a, grads)
        apply(opt_b, params_b, grads)
    for name in SHAPES:
        np.testing.assert_array_equal(backend.to_host(params_b[name].data), backend.to_host(params_a[name].data), err_msg=name)

    # and both agree with the reference run for 20 steps straight
    ref = REFERENCES[cls_name](**kwargs)
    expected = initial_values()
    for grads in seq:
        ref.step(expected, grads)
    assert_params_close(params_b, expected, 20)


def test_get_state_is_a_snapshot():
    """What get_state() returns must not change when the optimizer keeps training."""
    opt = optimizers.Adam(learning_rate=0.01)
    params = make_params(initial_values())
    seq = gradient_sequence(4)
    for grads in seq[:3]:
        apply(opt, params, grads)
    state = opt.get_state()
    frozen = {n: {k: np.array(v, copy=True) for k, v in s.items()} for n, s in state["slots"].items()}
    apply(opt, params, seq[3])
    for name, slots in frozen.items():
        for key, value in slots.items():
            np.testing.assert_array_equal(state["slots"][name][key], value, err_msg=f"exported {name}/{key} changed")


# --------------------------------------------------------------------------------------------------
# 5. Learning rate: set mid-run, and schedules
# --------------------------------------------------------------------------------------------------

LR_CASES = [
    pytest.param("SGD", {"learning_rate": 0.02, "momentum": 0.9}, id="SGD"),
    pytest.param("Adagrad", {"learning_rate": 0.1, "lr_decay": 0.05}, id="Adagrad"),
    pytest.param("Adadelta", {"learning_rate": 1.0}, id="Adadelta"),
    pytest.param("Adam", {"learning_rate": 0.01}, id="Adam"),
    pytest.param("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}, id="AdamW"),
    pytest.param("Adamax", {"learning_rate": 0.01}, id="Adamax"),
    pytest.param("Nadam", {"learning_rate": 0.01}, id="Nadam"),
    pytest.param("RAdam", {"learning_rate": 0.01}, id="RAdam"),
    pytest.param("RMSprop", {"learning_rate": 0.01, "momentum": 0.5}, id="RMSprop"),
]


@pytest.mark.parametrize("cls_name, kwargs", LR_CASES)
def test_learning_rate_set_mid_run(cls_name, kwargs):
    opt = torch_style(cls_name, **kwargs)
    ref = REFERENCES[cls_name](**kwargs)
    assert opt.learning_rate == pytest.approx(kwargs["learning_rate"] if "learning_rate" in kwargs else 1.0)
    params = make_params(initial_values())
    expected = initial_values()
    for t, grads in enumerate(gradient_sequence(12), start=1):
        if t == 5:
            new_lr = ref.learning_rate * 0.25
            opt.learning_rate = new_lr
            ref.learning_rate = new_lr
            assert opt.learning_rate == pytest.approx(new_lr)
        apply(opt, params, grads)
        ref.step(expected, grads)
        assert_params_close(params, expected, t)


@pytest.mark.parametrize("momentum", [0.0, 0.9], ids=["plain", "momentum"])
def test_sgd_exponential_decay_schedule_per_step(xp, momentum):
    """From the first step on, on either backend (the GPU kernels read the rate from device memory)."""
    lr0, alpha = 0.1, 0.5
    opt = optimizers.SGD(learning_rate=schedules.ExponentialDecay(lr0, alpha=alpha), momentum=momentum)
    ref = RefSGD(learning_rate=lambda t: lr0 * math.exp(-alpha * t), momentum=momentum)
    p = Parameter(xp.asarray([1.0, -1.0, 2.0]), name="w")
    g = np.array([1.0, 2.0, -3.0])
    expected = {"w": np.array([1.0, -1.0, 2.0])}
    for t in range(6):  # step t (0-based) uses lr0 * exp(-alpha * t)
        opt.apply_gradients([(xp.asarray(g), p)])
        ref.step(expected, {"w": g})
        if not momentum:
            hand = [1.0, -1.0, 2.0] - lr0 * sum(math.exp(-alpha * i) for i in range(t + 1)) * g
            np.testing.assert_allclose(expected["w"], hand, rtol=1e-14)
        np.testing.assert_allclose(backend.to_host(p.data), expected["w"], rtol=RTOL, atol=ATOL, err_msg=f"step {t}")


def test_schedule_with_adam_matches_reference():
    sched = schedules.ExponentialDecay(0.02, alpha=0.1)
    opt = torch_style("Adam", learning_rate=sched)
    ref = RefAdam(learning_rate=lambda t: 0.02 * math.exp(-0.1 * t))
    params = make_params(initial_values())
    expected = initial_values()
    for t, grads in enumerate(gradient_sequence(15), start=1):
        apply(opt, params, grads)
        ref.step(expected, grads)
        assert_params_close(params, expected, t)
