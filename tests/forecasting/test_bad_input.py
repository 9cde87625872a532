"""Bad input: one clear line on stderr, exit status 2, no traceback, nothing half-written."""

import numpy as np
import pandas as pd
import pytest

from helpers import write_csv
from sparsecast import DataError, Forecaster
from sparsecast.cli import main

SMALL = ["--seq-len", "24", "--label-len", "12", "--pred-len", "6", "--d-model", "16", "--n-heads", "2",
         "--d-ff", "32", "--epochs", "1", "--no-progress"]


def _edit(tmp, edit, n=300, **kw):
    path = write_csv(tmp / "data.csv", n=n, **kw)
    df = pd.read_csv(path)
    df = edit(df) if edit else df
    df.to_csv(path, index=False)
    return path


def _write(tmp, text: bytes):
    path = tmp / "data.csv"
    path.write_bytes(text)
    return path


CASES = {  # name: (make the data file, extra flags, what the one line must say)
    "missing file": (lambda t: t / "absent.csv", [], "data file not found"),
    "empty file": (lambda t: _write(t, b""), [], "is empty"),
    "header only": (lambda t: _write(t, b"date,OT\n"), [], "no rows"),
    "binary garbage": (lambda t: _write(t, bytes(range(256)) * 4), [], ""),
    "an Excel workbook": (lambda t: _write(t, b"PK\x03\x04") and t.joinpath("data.csv").rename(t / "data.xlsx"), [],
                          "is an Excel workbook, not a CSV"),
    "long format on the command line": (lambda t: _write(t, b"unique_id,ds,y\na,2024-01-01,1\nb,2024-01-01,2\n"), [],
                                        "is in long format"),
    "no date column": (lambda t: _edit(t, lambda d: d.rename(columns={"date": "stamp"})), [], "no 'date' column"),
    "date column named otherwise": (lambda t: _edit(t, lambda d: d.rename(columns={"date": "time"})),
                                    ["--date-col", "stamp"], "no 'stamp' column"),
    "unparseable date": (lambda t: _edit(t, lambda d: d.assign(date=d["date"].where(d.index != 7, "31/31/2020"))),
                         [], "cannot parse date"),
    "conflicting duplicate timestamp": (lambda t: _edit(t, lambda d: pd.concat([d, d.iloc[[5]].assign(OT=-1)])),
                                        [], "appears more than once"),
    "gap in timestamps": (lambda t: _edit(t, lambda d: d.drop(index=[50, 51])), [], "missing timestamp"),
    "frequency does not match": (lambda t: _edit(t, None), ["--freq", "D"], "not on the D grid"),
    "unknown frequency": (lambda t: _edit(t, None), ["--freq", "fortnightly"], "unknown frequency"),
    "irregular timestamps": (lambda t: _edit(t, lambda d: d.assign(date=pd.to_datetime(d["date"])
                                                                   + pd.to_timedelta(np.arange(len(d)) % 3, "min"))),
                             [], "frequency"),
    "NaN in target": (lambda t: _edit(t, lambda d: d.assign(OT=d["OT"].where(d.index != 9))), [],
                      "missing or infinite value in column 'OT'"),
    "inf in feature": (lambda t: _edit(t, lambda d: d.assign(a=d["a"].where(d.index != 9, np.inf)),
                                       columns=("a", "OT")), ["--features", "M"], "missing or infinite value in column 'a'"),
    "non-numeric feature": (lambda t: _edit(t, None, site=["x"] * 300), ["--features", "M"], "non-numeric"),
    "a currency sign in the target": (lambda t: _edit(t, lambda d: d.assign(OT=d["OT"].map("${:,.2f}".format))), [],
                                      "is not a number); drop them or convert them"),
    "unknown target": (lambda t: _edit(t, None), ["--target", "price"], "target column 'price'"),
    "no target named, several numeric columns and no OT": (lambda t: _edit(t, lambda d: d.drop(columns="OT")), [],
                                                            "which column of"),
    "too short for seq_len + pred_len": (lambda t: _edit(t, None, n=60), ["--seq-len", "96"],
                                         "fewer than seq_len + pred_len"),
    "label_len > seq_len": (lambda t: _edit(t, None), ["--label-len", "48"], "label_len"),
    "pred_len < 1": (lambda t: _edit(t, None), ["--pred-len", "0"], "pred_len"),
    "extremely large values": (lambda t: _edit(t, lambda d: d.assign(OT=d["OT"] * 1e306)), [], "too large"),
    "built-in not bundled without --root-path": (lambda t: "ETTm1", [], "--root-path"),
    "unknown attention": (lambda t: _edit(t, None), ["--attn", "dense"], "attn must be one of"),
    "bad model setting": (lambda t: _edit(t, None), ["--n-heads", "3"], "divisible"),
    "setting the model lacks": (lambda t: _edit(t, None), ["--model", "dlinear", "--d-model", "64"],
                                "has no setting"),
    "bad training setting": (lambda t: _edit(t, None), ["--patience", "0"], "patience"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_one_line_exit_2(tmp_path, capsys, name):
    make, flags, message = CASES[name]
    data = make(tmp_path)
    out = tmp_path / "runs" / "run"
    args = ["train", "--data", str(data), *SMALL, *flags, "--out", str(out)]
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("sparsecast: error:") and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "runs").exists()  # nothing written, not even the folders --out named


def test_unwritable_output_folder_fails_before_training(tmp_path, capsys):
    data = write_csv(tmp_path / "d.csv", n=300)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["train", "--data", str(data), *SMALL, "--out", str(blocker / "run")]) == 2
    assert "cannot write to the output folder" in capsys.readouterr().err


def test_checkpoint_from_another_config(tmp_path, capsys):
    import json
    data = write_csv(tmp_path / "d.csv", n=300)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), *SMALL, "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    config["model"]["d_model"] = 32
    (run / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    assert "another model or config" in capsys.readouterr().err


def test_unsorted_rows_are_sorted_with_a_warning(tmp_path):
    data = _edit(tmp_path, lambda d: d.sample(frac=1.0, random_state=0))
    with pytest.warns(UserWarning, match="not in time order"):
        assert main(["train", "--data", str(data), *SMALL, "--out", str(tmp_path / "run")]) == 0


@pytest.mark.parametrize("fill", ["ffill", "interpolate"])
def test_gaps_filled_on_request(tmp_path, fill):
    data = _edit(tmp_path, lambda d: d.drop(index=[50, 51]))
    with pytest.warns(UserWarning, match="filled 2 missing"):
        assert main(["train", "--data", str(data), *SMALL, "--fill", fill, "--out", str(tmp_path / "run")]) == 0


def test_constant_column_scales_to_zeros(tmp_path):
    data = _edit(tmp_path, lambda d: d.assign(a=5.0))
    assert main(["train", "--data", str(data), *SMALL, "--features", "M", "--out", str(tmp_path / "run")]) == 0


def test_python_api_raises_the_same_error_class():
    df = pd.DataFrame({"date": pd.date_range("2020", periods=50, freq="h"), "OT": np.arange(50.0)})
    with pytest.raises(DataError, match="target column 'price'"):
        Forecaster(target="price", seq_len=24, label_len=12, pred_len=6).fit(df)
    assert issubclass(DataError, ValueError)


def test_date_col_names_the_time_column(tmp_path):
    data = _edit(tmp_path, lambda d: d.rename(columns={"date": "timestamp"}))
    assert main(["train", "--data", str(data), *SMALL, "--date-col", "timestamp", "--out", str(tmp_path / "r")]) == 0


def test_disk_full_while_saving_is_one_line(tmp_path, capsys, monkeypatch):
    import errno

    import sparsecast.forecasting.run_dir as run_dir

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_dir, "save_file", full)
    data = write_csv(tmp_path / "d.csv", n=300)
    assert main(["train", "--data", str(data), *SMALL, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "No space left on device" in err and len(err.splitlines()) == 1
