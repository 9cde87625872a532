"""Reading a user's CSV as people write them: separators, decimal commas, dates day first, numbers, time zones."""

import numpy as np
import pandas as pd
import pytest

from sparsecast import DataError
from sparsecast.data.frame import default_target, parse_dates, read_table


def _frame(n=60, freq="h"):
    dates = pd.date_range("2024-01-01", periods=n, freq=freq)
    return pd.DataFrame({"date": dates, "load": 10.5 + np.arange(n) / 4, "temp": -np.arange(n) / 8})


@pytest.mark.parametrize("sep,decimal", [(";", ","), (";", "."), ("\t", "."), ("|", ".")])
def test_separators_and_decimal_commas(tmp_path, sep, decimal):
    df = _frame()
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False, sep=sep, decimal=decimal)
    read = read_table(path)
    assert list(read.columns) == ["date", "load", "temp"]
    np.testing.assert_allclose(read[["load", "temp"]].to_numpy(), df[["load", "temp"]].to_numpy())
    assert list(read["date"]) == list(df["date"])


@pytest.mark.parametrize("sep,decimal,text", [(",", ".", ['"1,010.4"', '"-12,345,678.9"', "2.5", ".5"]),
                                               (";", ",", ["1.010,4", "-12.345.678,9", "2,5", "0,5"])])
def test_numbers_with_digit_grouping_are_read_as_numbers(tmp_path, sep, decimal, text):
    path = tmp_path / "d.csv"
    dates = pd.date_range("2024-01-01", periods=4, freq="h").strftime("%Y-%m-%d %H:%M")
    path.write_text("\n".join([f"date{sep}sales{sep}note"] + [f"{d}{sep}{v}{sep}ok" for d, v in zip(dates, text)]))
    read = read_table(path)
    np.testing.assert_allclose(read["sales"].to_numpy(), [1010.4, -12345678.9, 2.5, 0.5])
    assert list(read["note"]) == ["ok"] * 4 and read.attrs["csv_format"] == {"sep": sep, "decimal": decimal}
    path.write_text(path.read_text().replace(text[2], "n.a.", 1))  # a word among them: the column stays text
    assert not pd.api.types.is_numeric_dtype(read_table(path)["sales"])


def test_digit_grouping_converts_its_own_columns_only(tmp_path):
    path = tmp_path / "d.csv"  # beside the grouped column: decimal commas, a tag list, a leading 0 group: all text
    path.write_text('date,sales,rate,tags,code\n2024-01-01,"1,234.5","1,5","1,2","0,125"\n'
                    '2024-01-02,"2,000","2,25","3,4,5","1,250"\n2024-01-03,12,"0,5",7,"2,500"\n')
    read = read_table(path)
    assert read["sales"].tolist() == [1234.5, 2000.0, 12.0]
    assert [list(read[c]) for c in ("rate", "tags", "code")] == [["1,5", "2,25", "0,5"], ["1,2", "3,4,5", "7"],
                                                                 ["0,125", "1,250", "2,500"]]
    path.write_text("date;Verbrauch\n01.02.2024;1.234,5\n02.02.2024;1.300,0\n03.02.2024;999,5\n")  # dates alone
    read = read_table(path)
    assert list(read["date"]) == list(pd.date_range("2024-02-01", periods=3)) and read["Verbrauch"].tolist() == [
        1234.5, 1300.0, 999.5]


def test_semicolons_with_text_that_is_not_a_number_stay_text(tmp_path):
    path = tmp_path / "d.csv"
    _frame().assign(site="A,B").to_csv(path, index=False, sep=";")
    assert list(read_table(path)["site"].unique()) == ["A,B"]


def test_dates_written_day_first_are_read_day_first():
    hourly = pd.date_range("2024-01-01", periods=400, freq="h")  # 13/01/2024 exists only day first
    assert list(parse_dates(pd.Series(hourly.strftime("%d/%m/%Y %H:%M")))) == list(hourly)
    monthly = pd.date_range("2000-01-01", periods=30, freq="MS")  # both readings parse; only day first is regular
    assert list(parse_dates(pd.Series(monthly.strftime("%d/%m/%Y")))) == list(monthly)
    us = pd.date_range("2024-01-01", periods=40, freq="D")  # month first, as pandas reads it, stays
    assert list(parse_dates(pd.Series(us.strftime("%m/%d/%Y")))) == list(us)


@pytest.mark.parametrize("unit,scale", [("s", 1), ("ms", 10 ** 3), ("us", 10 ** 6), ("ns", 10 ** 9)])
def test_numeric_timestamps_since_1970(unit, scale):
    dates = pd.date_range("2024-03-01", periods=50, freq="15min")
    numbers = pd.Series((dates - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1) * scale)
    assert list(parse_dates(numbers)) == list(dates)


def test_numeric_year_month_day():
    dates = pd.date_range("2019-12-25", periods=30, freq="D")
    assert list(parse_dates(pd.Series(dates.strftime("%Y%m%d").astype(int)))) == list(dates)


@pytest.mark.parametrize("freq,expected", [("h", "UTC"), ("D", None)])
def test_text_with_several_utc_offsets_is_read_on_an_even_grid(freq, expected):
    local = pd.date_range("2021-03-20", periods=300, freq=freq, tz="Europe/Berlin")
    text = pd.Series(local.astype(str))  # "+01:00" before the change of 2021-03-28, "+02:00" after
    with pytest.warns(UserWarning, match="several UTC offsets"):
        dates = parse_dates(text)
    assert (None if dates.dt.tz is None else str(dates.dt.tz)) == expected
    assert dates.diff().dropna().nunique() == 1  # evenly spaced: UTC hours, or local days
    if freq == "D":
        assert list(dates) == list(local.tz_localize(None))


def test_default_target_is_ot_else_the_only_numeric_column():
    df = _frame()
    assert default_target(df.assign(OT=1.0)) == "OT"
    assert default_target(df.drop(columns="temp").assign(site="A")) == "load"
    with pytest.raises(DataError, match=r"2 numeric columns \['load', 'temp'\].*--target"):
        default_target(df)
    with pytest.raises(DataError, match="no numeric column"):
        default_target(df[["date"]].assign(site="A"))


def test_a_saved_row_index_is_dropped_with_a_warning(tmp_path):
    path = tmp_path / "d.csv"
    _frame().drop(columns="temp").to_csv(path)  # pandas writes the index as a first column with an empty name
    with pytest.warns(UserWarning, match="no name in the header"):
        read = read_table(path)
    assert list(read.columns) == ["date", "load"] and default_target(read) == "load"


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.zip"])
def test_compressed_csv_reads_as_before(tmp_path, suffix):
    path = tmp_path / f"d{suffix}"
    _frame().to_csv(path, index=False)
    assert list(read_table(path).columns) == ["date", "load", "temp"]


def test_separators_inside_quoted_names_do_not_count(tmp_path):
    path = tmp_path / "d.csv"
    _frame().rename(columns={"temp": "temp;min;max"}).to_csv(path, index=False)
    assert list(read_table(path).columns) == ["date", "load", "temp;min;max"]


def test_decimal_commas_beside_a_text_column_and_a_blank_cell(tmp_path):
    df = _frame().assign(station="Berlin-Mitte")
    df.loc[3, "load"] = np.nan
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False, sep=";", decimal=",")
    read = read_table(path)
    np.testing.assert_allclose(read["load"].to_numpy(), df["load"].to_numpy())
    assert read["station"].iloc[0] == "Berlin-Mitte"


def test_years_and_year_months_as_numbers_and_numbers_that_are_not_dates():
    years = pd.Series(np.arange(1950, 2024))
    assert list(parse_dates(years)) == list(pd.date_range("1950-01-01", periods=74, freq="YS"))
    months = pd.Series(pd.date_range("2015-01-01", periods=30, freq="MS").strftime("%Y%m").astype(int))
    assert list(parse_dates(months)) == list(pd.date_range("2015-01-01", periods=30, freq="MS"))
    with pytest.raises(DataError, match="cannot read the numbers of column 'serial'"):
        parse_dates(pd.Series(np.arange(45000, 45100), name="serial"))  # spreadsheet serial days


def test_day_first_months_with_a_gap_stay_months():
    months = pd.date_range("2019-01-01", periods=36, freq="MS").delete(20)
    assert list(parse_dates(pd.Series(months.strftime("%d/%m/%Y")))) == list(months)
    us_months = pd.date_range("2019-01-01", periods=36, freq="MS").delete(20)  # month first, a gap: stays
    assert list(parse_dates(pd.Series(us_months.strftime("%m/%d/%Y")))) == list(us_months)


def test_a_saved_series_with_an_unnamed_index_reads_its_dates(tmp_path):
    path = tmp_path / "s.csv"
    series = _frame().set_index("date")["load"].rename_axis(None)
    series.to_csv(path)  # header ",load"
    read = read_table(path)
    assert list(read.columns) == ["date", "load"] and list(read["date"]) == list(series.index)


def test_a_time_column_named_otherwise_is_found_when_the_default_name_is_missing(tmp_path):
    path = tmp_path / "d.csv"
    _frame().rename(columns={"date": "Timestamp"}).to_csv(path, index=False)
    read = read_table(path)
    assert list(read.columns) == ["date", "load", "temp"] and read.attrs["time_column"] == "Timestamp"
    _frame().rename(columns={"date": "Time"}).assign(ds=pd.Timestamp("2024-01-01")).to_csv(path, index=False)
    with pytest.raises(DataError, match="no 'date' column"):  # two candidates: the user names one
        read_table(path)


def test_a_time_column_written_day_first_is_found_and_read_day_first(tmp_path):
    path = tmp_path / "d.csv"
    frame = _frame(n=400)  # 13/01/2024 onwards reads day first only
    frame.assign(date=frame["date"].dt.strftime("%d/%m/%Y %H:%M")).rename(columns={"date": "timestamp"}).to_csv(
        path, index=False)
    read = read_table(path)
    assert read.attrs["time_column"] == "timestamp" and list(read["date"]) == list(frame["date"])


def test_a_month_column_is_the_time_column_and_a_text_one_beside_real_dates_is_not(tmp_path):
    path = tmp_path / "d.csv"
    months = pd.date_range("2015-01-01", periods=36, freq="MS")
    pd.DataFrame({"Month": months.strftime("%b %Y"), "Passengers": np.arange(36.0)}).to_csv(path, index=False)
    read = read_table(path)  # the airline passengers' layout: Month, then the values
    assert read.attrs["time_column"] == "Month" and list(read["date"]) == list(months)
    pd.DataFrame({"Date": months.strftime("%Y-%m-%d"), "month": months.strftime("%b"), "y": np.arange(36.0)}).to_csv(
        path, index=False)  # "Jan" alone is no date: the Date column is the time column
    assert read_table(path).attrs["time_column"] == "Date"


def test_a_german_spreadsheet_export_reads_whole(tmp_path):
    path = tmp_path / "d.csv"  # Datum, day first with dots; semicolons; decimal commas with dots grouping thousands
    dates = pd.date_range("2024-01-01", periods=30, freq="h")
    german = {ord(","): ".", ord("."): ","}  # 1,000.5 -> 1.000,5
    rows = [f"{d};" + f"{v:,.1f}".translate(german)
            for d, v in zip(dates.strftime("%d.%m.%Y %H:%M"), 1000.5 + np.arange(30.0))]
    path.write_text("Datum;Verbrauch\n" + "\n".join(rows))
    read = read_table(path)
    assert read.attrs["time_column"] == "Datum" and list(read["date"]) == list(dates)
    np.testing.assert_allclose(read["Verbrauch"].to_numpy(), 1000.5 + np.arange(30.0))


def test_a_date_column_is_taken_before_a_month_or_hour_one_that_parses_too(tmp_path):
    path = tmp_path / "d.csv"
    days = pd.date_range("2024-01-05", periods=40, freq="D")
    for other, values in (("Month", days.strftime("%Y-%m")), ("Hour", ["01:00"] * 40),
                          ("Week", days.strftime("%Y-%m-%d"))):
        pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), other: values, "y": np.arange(40.0)}).to_csv(path, index=False)
        assert read_table(path).attrs["time_column"] == "Date", other


def test_dates_that_no_single_reading_reads_are_named_per_reading(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame({"timestamp": ["12/25/2024", "25/12/2024", "12/27/2024"], "y": [1.0, 2.0, 3.0]}).to_csv(
        path, index=False)
    with pytest.raises(DataError, match="'25/12/2024' at data row 2 is a date alone, but written in another order"):
        read_table(path)


def test_a_time_column_with_a_value_that_is_no_date_is_named_with_its_row(tmp_path):
    path = tmp_path / "d.csv"
    frame = _frame().rename(columns={"date": "Timestamp"}).astype({"Timestamp": object})
    frame.loc[7, "Timestamp"] = "tomorrow"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="column 'Timestamp' does not hold dates .*'tomorrow' at data row 8"):
        read_table(path)
    frame.assign(Timestamp=frame["Timestamp"].where(frame.index != 7)).to_csv(path, index=False)
    with pytest.raises(DataError, match="an empty cell at data row 8 is not a date"):
        read_table(path)


@pytest.mark.parametrize("dates, freq", [
    (pd.date_range("2024-01-01", periods=60, freq="D").delete(range(20, 30)), "D"),  # not 24h
    (pd.date_range("2000-01-01", periods=80, freq="MS").delete([10, 40]), "MS"),  # not the commonest gap in days
    (pd.date_range("2000-01-31", periods=80, freq="ME").delete([10, 40]), "ME"),
    (pd.bdate_range("2024-01-01", periods=200).delete([20, 70, 71]), "B"),  # business days with holidays
    # weekdays, then every day: the runs say B most often, but only the daily grid holds every date
    (pd.date_range("2020-01-05", periods=100, freq="W").delete([3, 50]), "W-SUN"),
    (pd.date_range("2024-01-01", periods=500, freq="h").delete([5, 100, 101]), "h"),
    (pd.bdate_range("2024-01-01", periods=200).append(pd.date_range("2024-10-12", periods=100, freq="D")), "D"),
    (pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-05"]), "D"),  # too few for runs: the step
    (pd.date_range("2024-01-01", periods=50, freq="2D").delete([5]), "2D")])
def test_the_frequency_of_dates_with_gaps_is_their_calendars(dates, freq):
    from sparsecast.data.datasets import infer_freq
    assert infer_freq(dates, "the data") == freq
