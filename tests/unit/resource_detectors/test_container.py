from vitalyst_otel.resource_detectors.container import ContainerDetector, container_id

ID = "a" * 12 + "0123456789abcdef" * 3 + "b" * 4


def root_with(tmp_path, cgroup="", mountinfo=""):
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text(cgroup)
    (tmp_path / "proc/self/mountinfo").write_text(mountinfo)
    return str(tmp_path)


def test_cgroup_v1_docker_and_kubernetes_paths(tmp_path):
    assert len(ID) == 64
    root = root_with(tmp_path, cgroup=f"12:memory:/docker/{ID}\n11:cpu:/docker/{ID}\n")
    assert container_id(root) == ID
    assert dict(ContainerDetector(root).detect().attributes) == {"container.id": ID}


def test_cgroup_v1_containerd_scope(tmp_path):
    line = f"1:name=systemd:/kubepods.slice/kubepods-burstable.slice/cri-containerd-{ID}.scope\n"
    assert container_id(root_with(tmp_path, cgroup=line)) == ID


def test_cgroup_v2_private_namespace_falls_back_to_mountinfo(tmp_path):
    mountinfo = (
        "611 578 0:52 / / rw,relatime master:315 - overlay overlay rw,lowerdir=/x\n"
        f"625 611 254:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw\n")
    assert container_id(root_with(tmp_path, cgroup="0::/\n", mountinfo=mountinfo)) == ID


def test_not_in_a_container(tmp_path):
    root = root_with(tmp_path, cgroup="0::/user.slice/user-1000.slice/session-2.scope\n",
                     mountinfo="22 1 8:1 / / rw - ext4 /dev/sda1 rw\n")
    assert container_id(root) is None
    assert dict(ContainerDetector(root).detect().attributes) == {}
    assert container_id(str(tmp_path / "missing")) is None
