from types import SimpleNamespace

from vitalyst_otel.distro import REPLACED_INSTRUMENTORS, VitalystDistro, launcher_conflicts


def test_no_message_when_only_we_are_installed():
    assert launcher_conflicts(True, True, ["vitalyst"], ["vitalyst"], environ={}) == []


def test_warns_when_another_distro_is_installed_even_if_we_won():
    messages = launcher_conflicts(True, True, ["vitalyst", "distro"], ["vitalyst", "configurator"], environ={})
    assert len(messages) == 2
    assert "OTEL_PYTHON_DISTRO=vitalyst" in messages[0] and "OTEL_PYTHON_CONFIGURATOR=vitalyst" in messages[1]


def test_explicit_choice_silences_the_warning():
    environ = {"OTEL_PYTHON_DISTRO": "vitalyst", "OTEL_PYTHON_CONFIGURATOR": "vitalyst"}
    assert launcher_conflicts(True, True, ["distro", "vitalyst"], ["configurator", "vitalyst"], environ) == []


def test_says_so_when_the_launcher_picked_someone_else():
    (distro_msg,) = launcher_conflicts(False, True, ["distro", "vitalyst"], ["vitalyst"], environ={})
    assert "did not load vitalyst_otel's distro" in distro_msg and "OTEL_PYTHON_DISTRO=vitalyst" in distro_msg


def test_contrib_instrumentors_we_replace_are_not_loaded_others_are():
    loaded = []

    class Instrumentor:
        def instrument(self, **kwargs):
            loaded.append(kwargs)

    distro = VitalystDistro()
    for name in REPLACED_INSTRUMENTORS:
        distro.load_instrumentor(SimpleNamespace(name=name, load=lambda: Instrumentor))
    assert loaded == []
    distro.load_instrumentor(SimpleNamespace(name="httpx", load=lambda: Instrumentor), skip_dep_check=True)
    assert loaded == [{"skip_dep_check": True}]
