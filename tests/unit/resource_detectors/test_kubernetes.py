from vitalyst_otel.resource_detectors.kubernetes import NAMESPACE_FILE, KubernetesDetector


def detect(environ, root="/nonexistent", hostname="host-1"):
    return dict(KubernetesDetector(environ, root=root, hostname=hostname).detect().attributes)


def test_outside_kubernetes_nothing_is_detected():
    assert detect({"HOME": "/root", "HOSTNAME": "laptop"}) == {}


def test_operator_injected_variables():
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "OTEL_RESOURCE_ATTRIBUTES_POD_NAME": "kg-7d9f-abcde",
               "OTEL_RESOURCE_ATTRIBUTES_POD_UID": "1b2c-uid", "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME": "node-3",
               "K8S_POD_NAME": "ignored-second-choice"}
    assert detect(environ) == {"k8s.pod.name": "kg-7d9f-abcde", "k8s.pod.uid": "1b2c-uid",
                               "k8s.node.name": "node-3"}


def test_chart_downward_api_variables_and_the_service_account_namespace_file(tmp_path):
    (tmp_path / NAMESPACE_FILE).parent.mkdir(parents=True)
    (tmp_path / NAMESPACE_FILE).write_text("vitalyst-prod\n")
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "K8S_NODE_NAME": "node-1", "K8S_CONTAINER_NAME": "api"}
    assert detect(environ, root=str(tmp_path), hostname="kg-5c6d-xyz12") == {
        "k8s.namespace.name": "vitalyst-prod", "k8s.node.name": "node-1", "k8s.container.name": "api",
        "k8s.pod.name": "kg-5c6d-xyz12"}


def test_namespace_variable_wins_over_the_file(tmp_path):
    (tmp_path / NAMESPACE_FILE).parent.mkdir(parents=True)
    (tmp_path / NAMESPACE_FILE).write_text("from-file")
    environ = {"POD_NAMESPACE": "from-env", "POD_NAME": "p-1"}
    assert detect(environ, root=str(tmp_path)) == {"k8s.namespace.name": "from-env", "k8s.pod.name": "p-1"}
