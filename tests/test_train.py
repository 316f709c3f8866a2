import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import lnsnet
from conftest import blocks_image
from lnsnet import checkpoint
from lnsnet.train import TrainConfig, expand_sources, train_stream

FAST = dict(iterations=4, feature_iterations=3, n_segments=(6, 12), loss_pixels=500)


def _images(n=3):
    return [blocks_image(40 + 4 * i, 56, seed=i) for i in range(n)]


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_training_changes_every_part_and_saves_everything(tmp_path):
    out = tmp_path / "m.pt"
    init = lnsnet.train.train_stream(_images(1), out, config=TrainConfig(iterations=0, feature_iterations=0,
                                                                            n_segments=(6,)), progress=False)
    before = _state(init)
    model = train_stream(_images(2), tmp_path / "m2.pt", config=TrainConfig(**FAST), progress=False)
    after = model.state_dict()
    for group in ("embedder.conv1.weight", "seed_layer.proj.weight", "reconstruction.weight", "memory"):
        assert not torch.equal(before[group], after[group]), group
    payload = checkpoint.load(tmp_path / "m2.pt")
    assert payload["position"] == 2
    assert payload["optimizer"]["state"]  # Adam moments are kept for the stream
    assert payload["train_config"]["iterations"] == 4
    assert len(payload["history"]) == 2 and np.isfinite(payload["history"][0]["loss"])


def test_phases_freeze_the_other_part(tmp_path):
    # only feature iterations: the seed layer must not move
    m0 = lnsnet.train.train_stream(_images(1), tmp_path / "a.pt",
                                   config=TrainConfig(iterations=0, feature_iterations=0), progress=False)
    s0 = _state(m0)
    m1 = train_stream(_images(1), tmp_path / "b.pt", config=TrainConfig(**{**FAST, "feature_iterations": 4}),
                      progress=False)
    assert all(torch.equal(s0[k], v) for k, v in m1.state_dict().items() if k.startswith("seed_layer"))
    # only seed iterations: the embedder and the head must not move
    m2 = train_stream(_images(1), tmp_path / "c.pt", config=TrainConfig(**{**FAST, "feature_iterations": 0}),
                      progress=False)
    st = m2.state_dict()
    assert all(torch.equal(s0[k], st[k]) for k in st if k.startswith(("embedder", "reconstruction")))
    assert not torch.equal(s0["seed_layer.proj.weight"], st["seed_layer.proj.weight"])


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    cfg = TrainConfig(**FAST)
    full = train_stream(_images(3), tmp_path / "full.pt", config=cfg, progress=False, checkpoint_every=1)
    part = tmp_path / "part.pt"
    train_stream(_images(3), part, config=cfg, progress=False, checkpoint_every=1, max_images=1)
    assert checkpoint.load(part)["position"] == 1
    resumed = train_stream(_images(3), part, config=cfg, progress=False, checkpoint_every=1, resume=True)
    assert checkpoint.load(part)["position"] == 3
    for k, v in full.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_sources_folder_and_list_file(tmp_path):
    from PIL import Image

    for i in range(2):
        Image.fromarray((blocks_image(seed=i) * 255).astype(np.uint8)).save(tmp_path / f"im{i}.png")
    (tmp_path / "list.txt").write_text("im1.png\n# comment\nim0.png\n")
    assert [p.name for p in expand_sources([tmp_path])] == ["im0.png", "im1.png"]
    assert [p.name for p in expand_sources([tmp_path / "list.txt"])] == ["im1.png", "im0.png"]
    with pytest.raises(FileNotFoundError):
        expand_sources([tmp_path / "nope.png"])


def test_user_boundary_maps(tmp_path):
    calls = []

    def bmap(name, rgb):
        calls.append(name)
        return np.zeros(rgb.shape[:2])

    train_stream([("a", blocks_image())], tmp_path / "m.pt", config=TrainConfig(**FAST), boundaries=bmap,
                 progress=False)
    assert calls == ["a"]
    # a map of the wrong shape skips its image, named (the only image here: no model)
    with pytest.warns(UserWarning, match="skipped image a: boundary map for 'a' has shape"):
        with pytest.raises(ValueError, match="no image could be trained"):
            train_stream([("a", blocks_image())], tmp_path / "m2.pt", config=TrainConfig(**FAST),
                         boundaries=lambda n, r: np.zeros((3, 3)), progress=False)


def _train_cmd(files, out, extra=()):
    return [sys.executable, "-m", "lnsnet.cli", "train", *map(str, files), "-o", str(out), "--iterations", "3",
            "--feature-iterations", "2", "-k", "50,100", "--checkpoint-every", "1", "--threads", "1", "-q", *extra]


def test_kill_after_first_image_and_resume_bsds500(tmp_path, bsds500, bsds500_full):
    """Issue 2: 3 BSDS500 images, killed (SIGKILL) after the first, resumed: same weights.
    The first 3 train images of the full set, or the mini set's 3 (test) images."""
    files = sorted((bsds500 / "images" / ("train" if bsds500_full else "test")).glob("*.jpg"))[:3]
    assert len(files) == 3, files
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ref = tmp_path / "ref.pt"
    subprocess.run(_train_cmd(files, ref), check=True, env=env, timeout=600)
    out, log = tmp_path / "run.pt", tmp_path / "log.jsonl"
    proc = subprocess.Popen(_train_cmd(files, out, ["--log", str(log)]), env=env)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and log.read_text().count("\n") >= 1 and out.exists():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    pos = checkpoint.load(out)["position"]
    assert 1 <= pos <= 3
    # a second kill at an arbitrary moment of the resumed run (possibly mid-write)
    proc = subprocess.Popen(_train_cmd(files, out, ["--resume"]), env=env)
    time.sleep(float(np.random.default_rng(int(time.time())).uniform(0.2, 3.0)))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(_train_cmd(files, out, ["--resume"]), check=True, env=env, timeout=600)
    a, b = checkpoint.load(ref), checkpoint.load(out)
    assert b["position"] == 3 and len(b["history"]) == 3
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
    assert [h["name"] for h in b["history"]] == [f.stem for f in files]


def test_corrupt_checkpoint_falls_back_to_previous(tmp_path):
    cfg = TrainConfig(**FAST)
    out = tmp_path / "m.pt"
    train_stream(_images(3), out, config=cfg, progress=False, checkpoint_every=1, max_images=2)
    prev = tmp_path / "m.pt.prev"
    assert checkpoint.load(prev)["position"] == 1 and checkpoint.load(out)["position"] == 2
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 2])  # truncated, as by a full disk
    with pytest.raises(ValueError):
        checkpoint.load(out)
    with pytest.warns(UserWarning, match="previous checkpoint"):
        resumed = train_stream(_images(3), out, config=cfg, progress=False, checkpoint_every=1, resume=True)
    full = train_stream(_images(3), tmp_path / "full.pt", config=cfg, progress=False, checkpoint_every=1)
    assert checkpoint.load(out)["position"] == 3
    for k, v in full.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_lr_schedule_values_and_validation():
    cfg = TrainConfig(lr=1e-3, lr_decay_images=10)
    # lr / (1 + i / T): 1e-3, 1e-3 / 2 at i = T, 1e-3 / 4 at i = 3T
    assert cfg.lr_at(0) == pytest.approx(1e-3)
    assert cfg.lr_at(10) == pytest.approx(5e-4)
    assert cfg.lr_at(30) == pytest.approx(2.5e-4)
    assert TrainConfig(lr=2e-4).lr_at(500) == 2e-4  # T = 0: constant
    with pytest.raises(ValueError, match="lr_decay_images"):
        TrainConfig(lr_decay_images=-1)
    for bad in (float("nan"), float("inf"), None):
        with pytest.raises(ValueError, match="lr_decay_images"):
            TrainConfig(lr_decay_images=bad)
    for bad in (0, -1e-4, float("nan"), float("inf"), "1e-4"):
        with pytest.raises(ValueError, match="lr must be"):
            TrainConfig(lr=bad)


def test_lr_schedule_reaches_the_optimizer_and_survives_resume(tmp_path):
    cfg = TrainConfig(**FAST, lr=1e-3, lr_decay_images=1)
    out = tmp_path / "m.pt"
    train_stream(_images(3), out, config=cfg, progress=False, checkpoint_every=1, max_images=2)
    # after image i = 1 the optimiser ran at lr / (1 + 1/1)
    assert checkpoint.load(out)["optimizer"]["param_groups"][0]["lr"] == pytest.approx(5e-4)
    resumed = train_stream(_images(3), out, config=cfg, progress=False, checkpoint_every=1, resume=True)
    assert checkpoint.load(out)["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-3 / 3)
    # each image trained at its own rate (set before the image, not after), across the resume
    assert [h["lr"] for h in checkpoint.load(out)["history"]] == pytest.approx([1e-3, 5e-4, 1e-3 / 3])
    full = train_stream(_images(3), tmp_path / "full.pt", config=cfg, progress=False, checkpoint_every=1)
    for k, v in full.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k
    # a constant rate gives another model: the schedule is used, not only stored
    const = train_stream(_images(3), tmp_path / "const.pt", config=TrainConfig(**FAST, lr=1e-3), progress=False)
    assert any(not torch.equal(v, const.state_dict()[k]) for k, v in full.state_dict().items())


def test_resume_with_other_options_names_what_differs(tmp_path):
    out = tmp_path / "m.pt"
    train_stream(_images(2), out, config=TrainConfig(**FAST, lr=1e-3), progress=False, max_images=1)
    with pytest.warns(UserWarning, match=r"lr=0\.001 \(not 0\.0002\)"):
        train_stream(_images(2), out, config=TrainConfig(**FAST, lr=2e-4), progress=False, resume=True)
    assert checkpoint.load(out)["train_config"]["lr"] == 1e-3  # the stored options are the ones used


def _named(names):
    return [(n, blocks_image(40, 56, seed=i)) for i, n in enumerate(names)]


def test_resume_refuses_a_changed_stream_and_trains_images_added_after(tmp_path):
    out, cfg = tmp_path / "m.pt", TrainConfig(**FAST)
    train_stream(_named("ab"), out, config=cfg, progress=False)
    with pytest.raises(ValueError, match="image 1 of the stream was 'a', now 'x'"):
        train_stream([("x", blocks_image())] + _named("ab"), out, config=cfg, progress=False, resume=True)
    train_stream(_named("abc"), out, config=cfg, progress=False, resume=True)
    assert [r["name"] for r in checkpoint.load(out)["history"]] == ["a", "b", "c"]


def test_an_interruption_saves_the_state_after_the_last_whole_image(tmp_path, monkeypatch):
    import lnsnet.train as tr

    cfg = TrainConfig(**FAST)
    want = train_stream(_named("abc"), tmp_path / "two.pt", config=cfg, progress=False, max_images=2)
    real, calls = tr.train_image, []

    def third_interrupted(*a, **k):  # the third image half done (its steps taken), then Ctrl-C
        calls.append(1)
        out = real(*a, **k)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(tr, "train_image", third_interrupted)
    out = tmp_path / "m.pt"
    with pytest.raises(KeyboardInterrupt):
        train_stream(_named("abc"), out, config=cfg, progress=False, checkpoint_every=10)
    payload = checkpoint.load(out)
    assert payload["position"] == 2 and [r["name"] for r in payload["history"]] == ["a", "b"]
    got = checkpoint.model_from_payload(payload).state_dict()
    for k, v in want.state_dict().items():
        assert torch.equal(v, got[k]), k


def test_a_stream_of_bad_images_writes_no_model(tmp_path):
    out = tmp_path / "m.pt"
    with pytest.raises(ValueError, match="no image could be trained"):
        train_stream([("a", np.zeros((4, 5, 2))), ("b", "not an image")], out, config=TrainConfig(**FAST),
                     progress=False, on_skip=lambda n, r: None)
    assert not out.exists()
    with pytest.raises(ValueError, match="is a folder"):
        train_stream(_named("a"), tmp_path, config=TrainConfig(**FAST), progress=False)


def test_resume_drops_log_records_past_the_checkpoint(tmp_path):
    out, log, cfg = tmp_path / "m.pt", tmp_path / "l.jsonl", TrainConfig(**FAST)
    train_stream(_named("abc"), out, config=cfg, progress=False, max_images=2, log=log)
    with open(log, "a") as fh:  # what a run killed after the third image, before its checkpoint, left
        fh.write('{"index": 2, "name": "c", "loss": 1.0}\n{"index": 3, "na')
    train_stream(_named("abc"), out, config=cfg, progress=False, resume=True, log=log)
    import json

    assert [json.loads(l)["index"] for l in log.read_text().splitlines()] == [0, 1, 2]


def test_a_new_run_does_not_mix_its_log_with_another_runs(tmp_path):
    """A new run over a log that holds records appended to it: two runs' records in one file,
    their indices starting again at 0 in the middle. Now it is refused (or, with overwrite,
    started empty), and a log that cannot be written is refused before any training."""
    import json

    out, log, cfg = tmp_path / "m.pt", tmp_path / "l.jsonl", TrainConfig(**FAST)
    train_stream(_named("ab"), out, config=cfg, progress=False, log=log)
    with pytest.raises(FileExistsError, match="another run"):
        train_stream(_named("ab"), tmp_path / "other.pt", config=cfg, progress=False, log=log)
    assert not (tmp_path / "other.pt").exists()
    train_stream(_named("abc"), out, config=cfg, progress=False, overwrite=True, log=log)
    assert [json.loads(l)["index"] for l in log.read_text().splitlines()] == [0, 1, 2]
    with pytest.raises(ValueError, match="is a folder"):
        train_stream(_named("a"), tmp_path / "x.pt", config=cfg, progress=False, log=tmp_path)
    with pytest.raises(OSError):
        train_stream(_named("a"), tmp_path / "y.pt", config=cfg, progress=False, log=tmp_path / "no" / "l.jsonl")
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()


def test_images_too_small_to_learn_from_are_skipped_and_named(tmp_path):
    skipped = []
    images = [("icon", np.random.default_rng(0).random((6, 7, 3)).astype(np.float32)),
              ("line", np.random.default_rng(1).random((1, 50, 3)).astype(np.float32)),
              ("ok", blocks_image(40, 56, seed=0))]
    train_stream(images, tmp_path / "m.pt", config=TrainConfig(**FAST), progress=False,
                 on_skip=lambda name, reason: skipped.append((name, reason)))
    assert [n for n, _ in skipped] == ["icon", "line"] and "6x7" in skipped[0][1] and "1x50" in skipped[1][1]
    history = checkpoint.load(tmp_path / "m.pt")["history"]
    assert [("skipped" in r) for r in history] == [True, True, False]


def test_a_missing_entry_of_a_list_file_is_skipped_and_named(tmp_path):
    from PIL import Image

    for i in range(2):
        Image.fromarray((blocks_image(seed=i) * 255).astype(np.uint8)).save(tmp_path / f"im{i}.png")
    (tmp_path / "list.txt").write_text("im0.png\ngone.png\nim1.png\n")
    skipped = []
    train_stream(expand_sources([tmp_path / "list.txt"]), tmp_path / "m.pt", config=TrainConfig(**FAST),
                 progress=False, on_skip=lambda n, r: skipped.append(n))
    history = checkpoint.load(tmp_path / "m.pt")["history"]
    assert skipped == ["gone"] and [("skipped" in r) for r in history] == [False, True, False]


def test_an_interruption_while_a_checkpoint_is_written_writes_it_again(tmp_path, monkeypatch):
    from conftest import interrupting

    monkeypatch.setattr(checkpoint, "save", interrupting(checkpoint.save, 2))
    out = tmp_path / "m.pt"
    with pytest.raises(KeyboardInterrupt):
        train_stream(_named("abc"), out, config=TrainConfig(**FAST), progress=False, checkpoint_every=1)
    assert checkpoint.load(out)["position"] == 2  # the second image's checkpoint, written by the handler


def test_an_interruption_before_any_trained_image_writes_no_model(tmp_path, monkeypatch):
    import lnsnet.train as tr

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(tr, "train_image", interrupted)
    out = tmp_path / "m.pt"
    with pytest.raises(KeyboardInterrupt):
        train_stream([("bad", np.zeros((3, 3, 2)))] + _named("a"), out, config=TrainConfig(**FAST), progress=False,
                     on_skip=lambda n, r: None)
    assert not out.exists()


def test_an_existing_output_is_refused_without_resume_or_overwrite(tmp_path):
    out = tmp_path / "m.pt"
    train_stream(_images(2), out, config=TrainConfig(**FAST), progress=False)
    before = out.read_bytes()
    with pytest.raises(FileExistsError, match="resume=True.*overwrite=True"):
        train_stream(_images(1), out, config=TrainConfig(**FAST), progress=False)
    assert out.read_bytes() == before  # untouched
    with pytest.raises(ValueError, match="pass one of them"):
        train_stream(_images(1), out, config=TrainConfig(**FAST), progress=False, resume=True, overwrite=True)
    train_stream(_images(1), out, config=TrainConfig(**FAST), progress=False, overwrite=True)
    assert checkpoint.load(out)["position"] == 1  # started over


def test_feature_iterations_default_to_four_fifths_of_the_iterations():
    assert TrainConfig().feature_iterations == 40
    assert TrainConfig(iterations=2).feature_iterations == 2  # round(1.6)
    assert TrainConfig(iterations=10).feature_iterations == 8
    assert TrainConfig(iterations=10, feature_iterations=0).feature_iterations == 0
    with pytest.raises(ValueError, match="feature_iterations must lie"):
        TrainConfig(iterations=2, feature_iterations=3)


def test_a_resume_with_nothing_left_keeps_both_files(tmp_path):
    out = tmp_path / "m.pt"
    cfg = TrainConfig(**FAST)
    train_stream(_images(2), out, config=cfg, progress=False, checkpoint_every=1)
    prev = out.with_name(out.name + ".prev")
    before, before_prev = out.read_bytes(), prev.read_bytes()
    train_stream(_images(2), out, config=cfg, progress=False, checkpoint_every=1, resume=True)
    assert out.read_bytes() == before and prev.read_bytes() == before_prev  # .prev was a copy of out before


def test_a_log_is_emptied_only_once_the_run_starts_and_3d_streams_refuse_too(tmp_path):
    """`lnsnet train --overwrite --log L` emptied L before its other checks, which could still
    refuse the run; and train_volumes overwrote a log by default where train_stream refuses."""
    import json

    from lnsnet.cli import main
    from lnsnet.volume_model import VolumeTrainConfig, train_volumes

    log = tmp_path / "keep.jsonl"
    log.write_text(json.dumps({"index": 0, "name": "a"}) + "\n")
    img = tmp_path / "a.npy"
    np.save(img, blocks_image(40, 56))
    assert main(["train", str(img), "-o", str(tmp_path / "m.pt"), "--overwrite", "--log", str(log), "--boundaries",
                 str(tmp_path / "missing"), "-q"]) == 2
    assert log.read_text().count("\n") == 1  # the refused run left the log as it was
    vol = np.random.default_rng(0).random((12, 20, 20)).astype(np.float32)
    with pytest.raises(FileExistsError, match="another run"):
        train_volumes([vol], tmp_path / "v.pt", config=VolumeTrainConfig(steps=1), log=log)
    assert log.read_text().count("\n") == 1
    train_volumes([vol], tmp_path / "v.pt", config=VolumeTrainConfig(steps=1), log=log, overwrite=True)
    assert [json.loads(l)["index"] for l in log.read_text().splitlines()] == [0]  # this run's one record


def test_a_resume_with_no_checkpoint_treats_the_log_as_a_new_runs(tmp_path):
    """--resume with no checkpoint at the output starts a new run: it emptied another run's
    log (2-D) or appended to it (3-D). A refused run leaves no empty new log, and
    train_volumes refuses an existing output as train_stream does."""
    import json

    from lnsnet.volume_model import VolumeTrainConfig, train_volumes

    log = tmp_path / "other.jsonl"
    log.write_text(json.dumps({"index": 0, "name": "x"}) + "\n")
    with pytest.raises(FileExistsError, match="another run"):
        train_stream(_named("ab"), tmp_path / "typo.pt", config=TrainConfig(**FAST), progress=False, resume=True,
                     log=log)
    vol = np.random.default_rng(0).random((12, 20, 20)).astype(np.float32)
    with pytest.raises(FileExistsError, match="another run"):
        train_volumes([vol], tmp_path / "v.pt", config=VolumeTrainConfig(steps=1), resume=True, log=log)
    assert log.read_text().count("\n") == 1 and not (tmp_path / "typo.pt").exists()
    new = tmp_path / "new.jsonl"
    with pytest.raises(ValueError):
        train_stream(_named("a"), tmp_path / "m.pt", config=TrainConfig(**FAST), progress=False, log=new,
                     checkpoint_every=0)
    assert not new.exists()  # refused after the log's check: no empty file left
    train_volumes([vol], tmp_path / "v2.pt", config=VolumeTrainConfig(steps=1))
    with pytest.raises(FileExistsError, match="v2.pt exists"):
        train_volumes([vol], tmp_path / "v2.pt", config=VolumeTrainConfig(steps=1))


def test_a_checkpoint_multiple_on_a_skipped_image_is_not_missed(tmp_path, monkeypatch):
    """checkpoint_every=2 over a, bad, c, bad, e: the model is saved once the stream has passed
    position 2 (after c) and 4 (after e). It was saved only after a trained image at a multiple
    of 2, so here not before the end: a kill lost every image."""
    saves = []
    real = checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda *a, **k: (saves.append(k["position"]), real(*a, **k)))
    bad = np.zeros((4, 5, 2))  # two channels: unreadable as an image, skipped
    stream = [("a", blocks_image(40, 56, seed=0)), ("b", bad), ("c", blocks_image(40, 56, seed=1)), ("d", bad),
              ("e", blocks_image(40, 56, seed=2))]
    with pytest.warns(UserWarning, match="skipped image"):
        train_stream(stream, tmp_path / "m.pt", config=TrainConfig(**FAST), progress=False, checkpoint_every=2)
    assert saves == [3, 5]


def test_a_missing_boundary_map_skips_its_image_and_any_error_saves_the_work_done(tmp_path, monkeypatch):
    """A stream with a boundary map missing for one image trains the others (the run stopped
    at it and kept nothing); an error raised in the middle of the stream saves the images
    trained before it, as an interruption does."""
    import lnsnet.train as tr

    def maps(name, rgb):
        if name == "b":
            raise FileNotFoundError("no boundary map for image 'b'")
        return np.zeros(rgb.shape[:2])

    out = tmp_path / "m.pt"
    with pytest.warns(UserWarning, match="skipped image b: no boundary map"):
        train_stream(_named("abc"), out, config=TrainConfig(**FAST), progress=False, boundaries=maps)
    hist = checkpoint.load(out)["history"]
    assert [r["name"] for r in hist if "skipped" not in r] == ["a", "c"]
    real, calls = tr.train_image, []

    def third_fails(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("out of memory")
        return real(*a, **k)

    monkeypatch.setattr(tr, "train_image", third_fails)
    out2 = tmp_path / "m2.pt"
    with pytest.raises(RuntimeError, match="out of memory"):
        train_stream(_named("abcd"), out2, config=TrainConfig(**FAST), progress=False, checkpoint_every=10)
    assert checkpoint.load(out2)["position"] == 2


def test_a_resume_keeps_the_runs_contour_prior(tmp_path):
    """A run trained with boundary maps is not resumed without them, nor a run on the Sobel
    prior with maps (a resume with maps used them while saying the prior was Sobel's: a
    stream of the two mixed)."""
    maps = lambda name, rgb: np.zeros(rgb.shape[:2])  # noqa: E731
    out = tmp_path / "maps.pt"
    train_stream(_named("ab"), out, config=TrainConfig(**FAST, contour="user"), progress=False, boundaries=maps,
                 max_images=1)
    with pytest.raises(ValueError, match="trained with boundary maps"):
        train_stream(_named("ab"), out, config=TrainConfig(**FAST), progress=False, resume=True)
    train_stream(_named("ab"), out, progress=False, resume=True, boundaries=maps)  # the same maps: continues
    assert checkpoint.load(out)["position"] == 2
    # maps given to a run of the default configuration: recorded as its prior, so the same maps resume it
    out3 = tmp_path / "api.pt"
    train_stream(_named("ab"), out3, config=TrainConfig(**FAST), progress=False, boundaries=maps, max_images=1)
    assert checkpoint.load(out3)["train_config"]["contour"] == "user"
    train_stream(_named("ab"), out3, progress=False, resume=True, boundaries=maps)
    # a prior of maps without maps, or a folder that is not there: refused before any image
    with pytest.raises(ValueError, match="pass boundaries="):
        train_stream(_named("ab"), tmp_path / "u.pt", config=TrainConfig(**FAST, contour="user"), progress=False)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        train_stream(_named("ab"), tmp_path / "f.pt", config=TrainConfig(**FAST), progress=False,
                     boundaries=tmp_path / "missing")
    assert not (tmp_path / "u.pt").exists() and not (tmp_path / "f.pt").exists()
    out2 = tmp_path / "sobel.pt"
    train_stream(_named("ab"), out2, config=TrainConfig(**FAST), progress=False, max_images=1)
    with pytest.raises(ValueError, match="contour prior 'sobel', not boundary maps"):
        train_stream(_named("ab"), out2, progress=False, resume=True, boundaries=maps)


def test_after_a_fall_back_to_prev_the_good_checkpoint_stays_as_prev(tmp_path):
    """A resume from <output>.prev (output corrupt) rewrites output; the first save moved the
    corrupt file into .prev, so the one good backup was gone."""
    cfg = TrainConfig(**FAST)
    out = tmp_path / "m.pt"
    train_stream(_images(3), out, config=cfg, progress=False, checkpoint_every=1, max_images=2)
    prev = tmp_path / "m.pt.prev"
    out.write_bytes(out.read_bytes()[:1000])  # truncated
    with pytest.warns(UserWarning, match="previous checkpoint"):
        train_stream(_images(3), out, config=cfg, progress=False, checkpoint_every=10, resume=True)
    assert checkpoint.load(out)["position"] == 3
    assert checkpoint.load(prev)["position"] == 1  # the backup it resumed from, readable


def test_a_model_without_a_trained_contour_head_says_the_default_ignores_its_training(tmp_path, capsys):
    """contour_iterations=0 from scratch: the default clustering reads only the contour head,
    untrained, so the model segments as an untrained one; training and `lnsnet info` say so."""
    from lnsnet.cli import main

    out = tmp_path / "m.pt"
    with pytest.warns(UserWarning, match="contour head was not trained"):
        train_stream(_images(1), out, config=TrainConfig(**FAST, contour_iterations=0), progress=False)
    img = blocks_image(60, 80, seed=5)
    assert np.array_equal(lnsnet.segment(img, 20, model=out), lnsnet.segment(img, 20, model="untrained"))
    assert main(["info", "-m", str(out)]) == 0
    assert "contour head never trained" in capsys.readouterr().out
    # a run from a trained model object, resumed: its head was trained (no warning, no note)
    obj = tmp_path / "obj.pt"
    train_stream(_images(2), obj, model=lnsnet.load_model(), config=TrainConfig(**FAST, contour_iterations=0),
                 progress=False, max_images=1)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train_stream(_images(2), obj, progress=False, resume=True)
    assert main(["info", "-m", str(obj)]) == 0
    assert "never trained" not in capsys.readouterr().out


def test_cli_resume_and_log_messages(tmp_path, capsys):
    """A plain --resume takes the run's settings without a warning about flags not given; a
    --log of a run that left no checkpoint is not advised --resume (which fails the same
    way); -o and --log the same file are refused; hidden files of a folder are not images."""
    import json

    from lnsnet.cli import main

    src = tmp_path / "imgs"
    src.mkdir()
    from PIL import Image

    for i in range(2):
        Image.fromarray((blocks_image(40, 56, seed=i) * 255).astype(np.uint8)).save(src / f"p{i}.png")
    (src / ".hidden.png").write_bytes(b"junk")  # a hidden file: not read
    (src / "w.heic").write_bytes(b"junk")  # an image lnsnet does not read: named in a note
    out = tmp_path / "m.pt"
    flags = ["--iterations", "3", "--feature-iterations", "2", "-k", "50", "--contour-iterations", "2", "--threads",
             "1", "-q"]
    assert main(["train", str(src), "-o", str(out), "--max-images", "1", *flags]) == 0
    capsys.readouterr()
    assert main(["train", str(src), "-o", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "resuming with the training configuration" not in err and "skipped" not in err
    assert "w.heic" in err and "does not read" in err
    log = tmp_path / "l.jsonl"
    log.write_text(json.dumps({"index": 0, "name": "p0"}) + "\n")
    assert main(["train", str(src), "-o", str(tmp_path / "never.pt"), "--resume", "--log", str(log), *flags]) == 2
    assert "left no checkpoint" in capsys.readouterr().err
    assert main(["train", str(src), "-o", str(out), "--overwrite", "--log", str(out), *flags]) == 2
    assert "the model's own file" in capsys.readouterr().err


def test_a_resume_given_a_flag_at_its_default_value_says_it_is_not_used(tmp_path, capsys):
    """--resume keeps the run's settings. A flag given at its default value (--iterations 50
    on a run of 3 iterations) was taken for a plain --resume, and the run went on at 3 in
    silence; now the flags given are named, those not given are not, equal ones are quiet.
    The same for 3-D streams (a plain resume of one warned about every setting not given)."""
    import warnings

    from PIL import Image

    from lnsnet.cli import main

    src = tmp_path / "imgs"
    src.mkdir()
    for i in range(3):
        Image.fromarray((blocks_image(40, 56, seed=i) * 255).astype(np.uint8)).save(src / f"p{i}.png")
    out = tmp_path / "m.pt"
    flags = ["--iterations", "3", "--feature-iterations", "2", "-k", "50", "--contour-iterations", "2", "--threads",
             "1", "-q"]
    assert main(["train", str(src), "-o", str(out), "--max-images", "1", *flags]) == 0
    with pytest.warns(UserWarning, match=r"not used: --iterations \(the run's iterations=3, not 50\)$"):
        assert main(["train", str(src), "-o", str(out), "--resume", "--iterations", "50", "--max-images", "1",
                     "-q"]) == 0
    assert checkpoint.load(out)["history"][-1]["index"] == 1  # trained, at the run's 3 iterations
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same values, or none: nothing said
        assert main(["train", str(src), "-o", str(out), "--resume", *flags]) == 0
    assert checkpoint.load(out)["train_config"]["iterations"] == 3

    (tmp_path / "vols").mkdir()
    np.save(tmp_path / "vols" / "v0.npy", np.random.default_rng(0).random((6, 20, 20)).astype(np.float32))
    np.save(tmp_path / "vols" / "v1.npy", np.random.default_rng(1).random((6, 20, 20)).astype(np.float32))
    v = tmp_path / "v.pt"
    assert main(["train", str(tmp_path / "vols"), "--volume", "-o", str(v), "--iterations", "1", "--lr", "0.01",
                 "--max-images", "1", "-q"]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["train", str(tmp_path / "vols"), "--volume", "-o", str(v), "--resume", "-q"]) == 0
    with pytest.warns(UserWarning, match=r"not used: --lr \(the run's lr=0\.01, not 0\.001\)$"):
        assert main(["train", str(tmp_path / "vols"), "--volume", "-o", str(v), "--resume", "--lr", "0.001",
                     "-q"]) == 0
    capsys.readouterr()


def test_a_resume_does_not_read_the_images_already_trained_again(tmp_path, monkeypatch):
    """A resumed stream compares the names of the images the checkpoint passed; it read
    (decoded) each of them again, which on a long stream of large photos took minutes."""
    from PIL import Image

    import lnsnet.train as train_module

    src = tmp_path / "imgs"
    src.mkdir()
    for i in range(4):
        Image.fromarray((blocks_image(40, 56, seed=i) * 255).astype(np.uint8)).save(src / f"p{i}.png")
    config = TrainConfig(**FAST)
    train_stream(src, tmp_path / "m.pt", config=config, progress=False, max_images=3)
    read = []
    real = train_module.read_image
    monkeypatch.setattr(train_module, "read_image", lambda p, **kw: read.append(p.name) or real(p, **kw))
    train_stream(src, tmp_path / "m.pt", config=config, progress=False, resume=True)
    assert read == ["p3.png"]
    assert checkpoint.load(tmp_path / "m.pt")["position"] == 4


def test_two_runs_into_one_model_file_are_refused_while_the_first_lives(tmp_path):
    """A second run training into the same -o interleaved its checkpoints with the first's:
    the first holds a lock (the operating system's, on ``.NAME.lock`` beside the file); a
    second run, in another process or the same one, is refused while it lives; a run that
    died holds nothing; no lock file is left after a run. 3-D streams alike."""
    from conftest import lock_held_elsewhere
    from lnsnet.volume_model import train_volumes

    out = tmp_path / "m.pt"
    lock = tmp_path / ".m.pt.lock"
    with lock_held_elsewhere(lock) as other:
        with pytest.raises(ValueError, match=rf"m\.pt is being written by another run \(process {other.pid} on "):
            train_stream(_images(1), out, config=TrainConfig(**FAST), progress=False)
        with pytest.raises(ValueError, match="another run"):
            train_volumes([np.zeros((6, 20, 20), np.float32)], out, progress=False)
        assert not out.exists()
    lock.write_text("process 1 on elsewhere")  # a file left behind holds no lock
    train_stream(_images(1), out, config=TrainConfig(**FAST), progress=False)
    assert out.exists() and not lock.exists()

    def stream():  # a second run in the same process while the first trains
        yield _images(1)[0]
        with pytest.raises(ValueError, match="another run"):
            train_stream(_images(1), out, config=TrainConfig(**FAST), progress=False, overwrite=True)
        assert lock.exists()
        yield _images(2)[1]

    train_stream(stream(), out, config=TrainConfig(**FAST), progress=False, overwrite=True)
    assert checkpoint.load(out)["position"] == 2 and not lock.exists()
    with pytest.raises(ValueError, match="pass one of them"):  # a refused run leaves no folder behind
        train_stream(_images(1), tmp_path / "new" / "sub" / "m.pt", resume=True, overwrite=True, progress=False)
    assert not (tmp_path / "new").exists()


def test_a_training_setting_of_the_wrong_kind_is_named():
    """TrainConfig(iterations="3") failed in a comparison with a TypeError that named
    nothing, and VolumeTrainConfig(steps="3") not until training; now each names the field,
    with an error that is a TypeError and a ValueError (lnsnet.errors.ArgumentTypeError)."""
    from lnsnet.errors import ArgumentTypeError
    from lnsnet.volume_model import VolumeTrainConfig

    for make, kw, name in ((TrainConfig, dict(iterations="3"), "iterations"), (TrainConfig, dict(lr="1e-4"), "lr"),
                           (TrainConfig, dict(seed=1.5), "seed"), (TrainConfig, dict(contours_only=1), "contours_only"),
                           (VolumeTrainConfig, dict(steps="3"), "steps")):
        with pytest.raises(ArgumentTypeError, match=rf"^{name} must be"):
            make(**kw)
    assert TrainConfig(lr=1, feature_iterations=None).lr == 1  # an int for a float, None where allowed
