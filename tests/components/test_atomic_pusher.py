import os

from components.atomic_pusher import next_version, push_atomically


def _model(path, content: bytes):
    os.makedirs(path / "variables", exist_ok=True)
    (path / "saved_model.pb").write_bytes(content)
    (path / "variables" / "variables.index").write_bytes(b"index" + content)
    return str(path)


def test_push_creates_increasing_versions_without_staging_leftovers(tmp_path):
    base = tmp_path / "serving"
    first, v1 = push_atomically(_model(tmp_path / "m1", b"one"), str(base))
    second, v2 = push_atomically(_model(tmp_path / "m2", b"two"), str(base))
    assert int(v2) > int(v1)
    assert sorted(os.listdir(base)) == sorted([v1, v2])
    assert (base / v2 / "saved_model.pb").read_bytes() == b"two"
    assert (base / v2 / "variables" / "variables.index").read_bytes() == b"indextwo"


def test_same_model_again_is_not_copied(tmp_path):
    base = tmp_path / "serving"
    _, v1 = push_atomically(_model(tmp_path / "m1", b"one"), str(base))
    path, v_again = push_atomically(_model(tmp_path / "copy", b"one"), str(base))
    assert v_again == v1 and os.listdir(base) == [v1]


def test_version_never_goes_backwards(tmp_path):
    (tmp_path / "99999999999").mkdir()
    (tmp_path / "not-a-version").mkdir()
    assert next_version(str(tmp_path)) == 100000000000


def test_failed_copy_leaves_nothing_visible(tmp_path, monkeypatch):
    import shutil

    def broken_copy(src, dst):
        os.makedirs(dst)
        (open(os.path.join(dst, "saved_model.pb"), "wb")).close()
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copytree", broken_copy)
    base = tmp_path / "serving"
    try:
        push_atomically(_model(tmp_path / "m", b"x"), str(base))
    except OSError:
        pass
    assert os.listdir(base) == []
