"""Keras's public names: each one gpunet lacks raises NotSupportedYetError (an AttributeError),
other names Python's own AttributeError; the stored list is the installed Keras's, and the docs'
table is the code's."""

import importlib
import importlib.util
import inspect
import os
import subprocess
import sys
import types

import pytest

import gpunet
from gpunet import keras_api
from gpunet.errors import NotSupportedYetError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERAS_MODULES = keras_api.keras_modules()

# names whose kind differs from Keras's without harm: a context manager written as a function
KIND_DIFFERENCES = {"keras.saving.custom_object_scope"}


def script():
    spec = importlib.util.spec_from_file_location("keras_api_names", os.path.join(ROOT, "scripts", "keras_api_names.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gpunet_module(keras_module):
    """gpunet's module for a Keras module, reached by attributes as a script would; None when a
    step is missing (which must then be a NotSupportedYetError)."""
    home = keras_api.gpunet_module_of(keras_module)
    if home != "gpunet" + keras_module[len("keras"):]:
        return importlib.import_module(home)
    module = gpunet
    for part in keras_module.split(".")[1:]:
        try:
            module = getattr(module, part)
        except NotSupportedYetError as error:
            assert not hasattr(module, part)
            assert f"gpunet does not support {error.keras_name} yet" in str(error)
            return None
    assert isinstance(module, types.ModuleType), f"gpunet's {keras_module} is not a module"
    return module


def kind(value):
    if isinstance(value, types.ModuleType):
        return "module"
    if isinstance(value, type):
        return "class"
    return "function" if callable(value) else "constant"


@pytest.mark.parametrize("keras_module", KERAS_MODULES)
def test_every_keras_name_exists_or_is_not_supported_yet(keras_module):
    module = gpunet_module(keras_module)
    if module is None:
        assert keras_api.supported(keras_module) == []
        return
    hook = vars(module).get("__getattr__")
    assert getattr(hook, "keras_module", None) == keras_module, (
        f"{module.__name__} mirrors {keras_module}: end it with the hook of gpunet.keras_api "
        "(__getattr__ = module_getattr(__name__))")
    have = []
    for name, keras_kind in keras_api.keras_names(keras_module).items():
        try:
            value = getattr(module, name)
        except NotSupportedYetError as error:
            message = f"gpunet does not support {keras_module}.{name} yet"
            assert str(error).startswith(message) and "docs/keras.md" in str(error)
            assert error.keras_name == f"{keras_module}.{name}" and error.module == module.__name__
            assert not hasattr(module, name) and getattr(module, name, None) is None
            with pytest.raises(ImportError, match=message) as raised:
                exec(f"from {module.__name__} import {name}", {})
            assert isinstance(raised.value.__cause__, NotSupportedYetError)
            continue
        have.append(name)
        if f"{keras_module}.{name}" not in KIND_DIFFERENCES:
            assert (kind(value) == "module") == (keras_kind == "module"), \
                f"gpunet's {module.__name__}.{name} is a {kind(value)}, Keras's {keras_module}.{name} a {keras_kind}"
    assert keras_api.supported(keras_module) == sorted(have)


def test_the_error_is_an_attribute_error_with_the_message():
    with pytest.raises(AttributeError, match=r"^gpunet does not support keras\.layers\.ConvLSTM2D yet\. .*docs/keras\.md"):
        gpunet.layers.ConvLSTM2D(32, 3)
    assert issubclass(NotSupportedYetError, AttributeError)
    for expression in ("gpunet.Quantizer", "gpunet.applications", "gpunet.tree.map_shape_structure", "gpunet.config.enable_flash_attention",
                       "gpunet.ops.nn.polar", "gpunet.layers.ConvLSTM2D", "gpunet.losses.CTC", "gpunet.utils.plot_model"):
        with pytest.raises(NotSupportedYetError, match="gpunet does not support keras.* yet"):
            eval(expression)


def test_keras_backend_names_say_what_gpunet_backend_is():
    assert gpunet.backend.floatx is not None and gpunet.backend.set_floatx is not None
    with pytest.raises(NotSupportedYetError, match=r"keras\.backend\.get_uid yet \(gpunet\.backend is gpunet's array backend"):
        gpunet.backend.get_uid  # noqa: B018
    assert gpunet.backend.epsilon() == gpunet.config.epsilon() == 1e-7
    assert gpunet.backend.to_device is not None  # gpunet's own names stay


@pytest.mark.parametrize("module,name", [(gpunet, "Sequentail"), (gpunet.layers, "Dens"), (gpunet.backend, "device_count"),
                                         (gpunet.datasets.mnist, "load"), (gpunet.schedules, "Foo")])
def test_other_names_get_pythons_attribute_error(module, name):
    with pytest.raises(AttributeError) as raised:
        getattr(module, name)
    assert type(raised.value) is AttributeError
    assert str(raised.value) == f"module {module.__name__!r} has no attribute {name!r}"
    assert raised.value.name == name and raised.value.obj is module
    with pytest.raises(ImportError, match=f"cannot import name {name!r}"):
        exec(f"from {module.__name__} import {name}", {})


@pytest.mark.parametrize("name", ["__wrapped__", "__path__", "_LSTM", "__all_names__"])
def test_private_names_get_pythons_attribute_error(name):
    for module in (gpunet, gpunet.layers, gpunet.utils):
        if name in vars(module):
            continue
        with pytest.raises(AttributeError) as raised:
            getattr(module, name)
        assert type(raised.value) is AttributeError


def test_python_still_suggests_a_close_name():
    code = "import gpunet\ngpunet.modles\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert "AttributeError: module 'gpunet' has no attribute 'modles'. Did you mean: 'models'?" in result.stderr


def test_import_statements():
    with pytest.raises(ModuleNotFoundError, match="gpunet does not support keras.applications yet") as raised:
        exec("import gpunet.applications.resnet50", {})
    assert raised.value.name == "gpunet.applications" and isinstance(raised.value.__cause__, NotSupportedYetError)
    with pytest.raises(ImportError, match="gpunet does not support keras.quantizers yet"):
        exec("from gpunet import quantizers", {})
    with pytest.raises(ModuleNotFoundError, match="gpunet keeps keras.optimizers.schedules as gpunet.schedules"):
        exec("import gpunet.optimizers.schedules", {})
    with pytest.raises(ModuleNotFoundError, match="No module named 'gpunet.nothing'"):
        exec("import gpunet.nothing", {})
    from gpunet.optimizers import schedules
    from gpunet.ops import normalization  # a submodule named like no Keras name imports as usual

    assert schedules is gpunet.schedules is gpunet.optimizers.schedules and normalization.batch_norm


def test_gpunet_does_not_import_keras():
    code = ("import sys, gpunet\nhasattr(gpunet.layers, 'LSTM')\ngpunet.keras_api.coverage()\n"
            "assert not any(m == 'keras' or m.startswith('keras.') for m in sys.modules), 'keras imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr


def test_version_is_kerass_function():
    assert gpunet.version() == gpunet.__version__


def test_the_stored_list_is_the_installed_kerass():
    os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras 3 defaults to TensorFlow, which is not a test extra
    pytest.importorskip("jax", reason="Keras 3 runs on JAX in the tests")
    keras = pytest.importorskip("keras", minversion="3.0")
    installed = script().keras_names()
    assert installed["keras_version"] == keras.__version__
    stored = {module: keras_api.keras_names(module) for module in keras_api.keras_modules()}
    added = {m: sorted(set(names) - set(stored.get(m, {}))) for m, names in installed["modules"].items()}
    removed = {m: sorted(set(names) - set(installed["modules"].get(m, {}))) for m, names in stored.items()}
    hint = "Keras changed: run python scripts/keras_api_names.py and review the names that came and went"
    assert not any(added.values()) and not any(removed.values()), f"{hint}: added {added}, removed {removed}"
    assert keras_api.keras_version() == keras.__version__, hint
    assert installed["modules"] == stored, hint


def test_the_docs_table_is_the_codes():
    module = script()
    with open(module.DOCS_FILE, encoding="utf-8") as f:
        text = f.read()
    assert module.docs_with_table(text) == text, "docs/keras.md is out of date: run python scripts/keras_api_names.py --docs"


def test_the_names_file_ships_with_the_package():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        package_data = tomllib.load(f)["tool"]["setuptools"]["package-data"]
    assert "*.json" in package_data["gpunet.keras_api"]
    assert inspect.getfile(keras_api).endswith(os.path.join("gpunet", "keras_api", "__init__.py"))


# the top-level classes, and the module each one comes from (in Keras and in gpunet)
TOP_LEVEL = {"Layer": "layers", "Loss": "losses", "Metric": "metrics", "Optimizer": "optimizers",
             "Initializer": "initializers", "Regularizer": "regularizers", "DTypePolicy": "dtype_policies"}


@pytest.mark.parametrize("name", sorted(TOP_LEVEL))
def test_top_level_classes_are_their_modules_as_in_keras(name):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("jax", reason="Keras 3 runs on JAX in the tests")
    keras = pytest.importorskip("keras", minversion="3.0")
    module = TOP_LEVEL[name]
    assert getattr(keras, name) is getattr(getattr(keras, module), name)  # what gpunet mirrors
    assert getattr(gpunet, name) is getattr(getattr(gpunet, module), name)
    assert name in gpunet.__all__


def test_variable_is_the_autograd_weight_class():
    assert gpunet.Variable is gpunet.Parameter is gpunet.autograd.Variable
    assert isinstance(gpunet.layers.Dense(2).add_weight(shape=(2,), name="w"), gpunet.Variable)
