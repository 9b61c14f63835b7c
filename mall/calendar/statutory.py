"""The statutory public holidays (法定节假日) of a year, computed. Pure: no I/O.

The 全国年节及纪念日放假办法 fixes which days everyone has off; the State
Council's yearly schedule then moves days around them (调休, make-up
workdays), which cannot be computed. A year without a loaded schedule still
has these days off:

| holiday | 2024 revision (since 2025) | 2013 rev. (2014–2024) | 2007 rev. (2008–2013) |
| --- | --- | --- | --- |
| 元旦 | 1 January | same | same |
| 春节 | 农历除夕 and 正月初一至初三 (4) | 正月初一至初三 (3) | 除夕, 初一, 初二 (3) |
| 清明 | the day of the Qingming solar term | same | same |
| 劳动节 | 1–2 May | 1 May | 1 May |
| 端午 | 农历五月初五 | same | same |
| 中秋 | 农历八月十五 | same | same |
| 国庆 | 1–3 October | same | same |

Lunar dates and the Qingming solar term come from ``lunar_python``
(astronomical computation of new moons and solar longitude).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from lunar_python import Lunar

__all__ = ["FIRST_YEAR", "SOURCE", "statutory_holidays"]

SOURCE = "全国年节及纪念日放假办法 (statutory holidays only; make-up workdays unknown)"

# The first year under the 2007 revision; earlier years had 7-day "golden weeks".
FIRST_YEAR = 2008
ONE_DAY = dt.timedelta(days=1)


def _lunar(year: int, month: int, day: int) -> dt.date:
    """The Gregorian date of a day of the lunar year that begins in ``year``."""
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


def _qingming(year: int) -> dt.date:
    solar = Lunar.fromYmd(year, 1, 1).getJieQiTable()["清明"]
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


@lru_cache(maxsize=256)
def statutory_holidays(year: int) -> frozenset[dt.date]:
    """The days off the 放假办法 in force in ``year`` names, with their names'
    dates computed (lunar holidays and Qingming); empty before ``FIRST_YEAR``.

    A lunar holiday is taken in the Gregorian year it falls in: 除夕 of the
    lunar year beginning in ``year`` may fall in ``year`` only (the new year is
    never before 21 January), so it is always in the same year."""
    if year < FIRST_YEAR:
        return frozenset()
    new_year = _lunar(year, 1, 1)
    if year >= 2025:
        spring = [new_year - ONE_DAY, *(new_year + n * ONE_DAY for n in range(3))]
        labour = [dt.date(year, 5, 1), dt.date(year, 5, 2)]
    elif year >= 2014:
        spring = [new_year + n * ONE_DAY for n in range(3)]
        labour = [dt.date(year, 5, 1)]
    else:
        spring = [new_year - ONE_DAY, new_year, new_year + ONE_DAY]
        labour = [dt.date(year, 5, 1)]
    days = {
        dt.date(year, 1, 1),
        *spring,
        _qingming(year),
        *labour,
        _lunar(year, 5, 5),
        _lunar(year, 8, 15),
        *(dt.date(year, 10, day) for day in (1, 2, 3)),
    }
    return frozenset(day for day in days if day.year == year)
