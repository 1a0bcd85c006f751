"""Customers of the synthetic bank and the latent traits that drive everything they do.

Latent traits (wealth, activity, digital affinity, credit risk, satisfaction, churn) are never
written to the customers table; they shape holdings, transactions, events, campaign responses
and feedback, so models trained later find real signal behind observable attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.schema import CUSTOMERS
from lodestar.data.synthetic.calendar import Calendar, ids, sigmoid, take

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅玉兰飞鹏辉斌浩宇欣怡子涵梓萱雨轩思远佳琪晨博文瑞"
)
#: (region, city, share, 6-digit area-code prefix for ID numbers)
PLACES = (
    ("浙江", "杭州", 0.16, "330100"), ("浙江", "宁波", 0.10, "330200"), ("浙江", "温州", 0.08, "330300"),
    ("江苏", "苏州", 0.10, "320500"), ("江苏", "南京", 0.08, "320100"), ("上海", "上海", 0.10, "310100"),
    ("广东", "广州", 0.08, "440100"), ("广东", "深圳", 0.08, "440300"), ("四川", "成都", 0.07, "510100"),
    ("湖北", "武汉", 0.06, "420100"), ("新疆", "乌鲁木齐", 0.02, "650100"), ("香港", "香港", 0.01, "810000"),
    ("山东", "济南", 0.06, "370100"),
)  # fmt: skip
ZONE_OF_REGION = {"新疆": "Asia/Urumqi", "香港": "Asia/Hong_Kong"}
ACQUISITION = ("branch", "mobile_app", "wechat", "partner", "referral", "douyin", "payroll")
INCOME_EDGES = np.array([5_000, 10_000, 20_000, 50_000])  # monthly CNY
INCOME_BANDS = ("lt5k", "5k_10k", "10k_20k", "20k_50k", "ge50k")
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.array(list("10X98765432"))


@dataclass
class Population:
    """One chunk of customers: observable columns plus latent traits, aligned by position."""

    n: int
    number: np.ndarray  # global customer number
    customer_id: pa.Array
    age: np.ndarray
    join_day: np.ndarray  # day index into the calendar (may be < 0: joined before the history)
    churn_day: np.ndarray  # last active day index; calendar.days when not churned
    monthly_income: np.ndarray
    employment: np.ndarray  # index into EMPLOYMENT
    risk_tolerance: np.ndarray  # 1..5
    digital: np.ndarray  # 0..1 affinity for app / online channels
    app_user: np.ndarray  # bool
    has_email: np.ndarray
    has_wecom: np.ndarray
    wealth: np.ndarray  # liquid wealth held with the bank, CNY (heavy-tailed)
    activity: np.ndarray  # relative activity level (mean about 1)
    credit_risk: np.ndarray  # latent default propensity, logit scale
    satisfaction: np.ndarray  # latent, -2..2
    table: pa.Table


EMPLOYMENT = ("employee", "civil_servant", "self_employed", "business_owner", "farmer", "retired",
              "student", "unemployed")  # fmt: skip


def make_people(rng: np.random.Generator, first_number: int, n: int, cal: Calendar) -> Population:
    number = np.arange(first_number, first_number + n, dtype=np.int64)
    age = np.clip(np.round(18 + rng.beta(2.0, 3.2, n) * 64), 18, 85).astype(int)
    gender = np.where(rng.random(n) < 0.5, 0, 1)
    gender = np.where(rng.random(n) < 0.01, 2, gender)

    # Employment depends on age: students young, retirees old, business owners mid-life.
    u = rng.random(n)
    employment = np.select(
        [age <= 22, age >= 63, u < 0.09, u < 0.19, u < 0.27, u < 0.30, u < 0.33],
        [np.where(rng.random(n) < 0.7, 6, 0), 5, 3, 2, 1, 4, 7],
        default=0,
    )
    edu_score = rng.normal(0, 1, n) - 0.02 * (age - 40)
    education = np.digitize(edu_score, [-1.2, 0.0, 1.1])  # primary, secondary, tertiary, postgrad
    # Income peaks in mid-life; education and business ownership raise it.
    base = 8.6 + 0.35 * education + 0.5 * (employment == 3) + 0.25 * (employment == 1)
    base -= 0.0011 * (age - 45) ** 2 + 0.9 * (employment == 6) + 0.4 * (employment == 5)
    monthly_income = np.exp(base + rng.normal(0, 0.55, n))
    # Wealth: a heavy tail (lognormal with a Pareto kicker) so the top 20% hold about 80%.
    wealth = monthly_income * np.exp(rng.normal(0.8, 1.45, n)) * (1 + 0.02 * (age - 18))
    wealth *= np.where(rng.random(n) < 0.03, rng.pareto(1.3, n) + 1, 1.0)

    digital = np.clip(sigmoid(2.2 - 0.075 * (age - 28) + 0.3 * education + rng.normal(0, 0.8, n)),
                      0.02, 0.99)  # fmt: skip
    app_user = rng.random(n) < 0.2 + 0.75 * digital
    has_email = rng.random(n) < 0.15 + 0.5 * digital
    has_wecom = rng.random(n) < 0.12 + 0.35 * digital
    risk_tol = 1 + np.clip(
        np.round(1.8 + 0.7 * education + 0.4 * np.log(wealth / 1e5 + 1) - 0.03 * (age - 40)
                 + rng.normal(0, 0.8, n)), 0, 4
    ).astype(int)  # fmt: skip
    activity = np.exp(rng.normal(-0.25, 0.8, n))
    credit_risk = (-3.2 - 0.35 * np.log(monthly_income / 8000) + 0.03 * np.maximum(35 - age, 0)
                   + 0.6 * (employment == 7) + rng.normal(0, 0.9, n))  # fmt: skip
    satisfaction = np.clip(rng.normal(0.3, 0.9, n) - 0.5 * sigmoid(credit_risk + 2), -2, 2)

    # Tenure: up to 25 years, never before age 18.
    tenure_days = np.minimum(rng.exponential(4.5, n) * 365, (age - 18) * 365 + 30).astype(int)
    join_day = cal.days - 1 - tenure_days
    # Churn: a share leaves during the history; less active, less satisfied customers more so.
    p_churn = sigmoid(-2.6 - 0.6 * satisfaction - 0.5 * np.log(activity + 0.1))
    churns = rng.random(n) < p_churn
    churn_day = np.where(
        churns,
        rng.integers(np.clip(join_day + 60, 0, cal.days - 2), cal.days - 1),
        cal.days,
    )
    churns &= churn_day > join_day
    churn_day = np.where(churns, churn_day, cal.days)
    closed = churns & (rng.random(n) < 0.6) & (churn_day < cal.days - 90)
    dormant = churns & ~closed

    place_p = np.array([p[2] for p in PLACES])
    place = rng.choice(len(PLACES), n, p=place_p / place_p.sum())
    regions = [p[0] for p in PLACES]
    cities = [p[1] for p in PLACES]
    zones = [ZONE_OF_REGION.get(p[0], "Asia/Shanghai") for p in PLACES]
    branch = place * 3 + rng.integers(0, 3, n)

    birth = (np.datetime64(cal.as_of) - (age * 365.25).astype("timedelta64[D]")
             - rng.integers(0, 365, n).astype("timedelta64[D]"))  # fmt: skip
    join_date = np.datetime64(cal.start) + join_day.astype("timedelta64[D]")
    closed_date = np.datetime64(cal.start) + np.minimum(churn_day, cal.days - 1).astype(
        "timedelta64[D]"
    )
    customer_id = ids("C", number, 8)
    band = np.digitize(monthly_income, INCOME_EDGES)
    band_labels = np.array(INCOME_BANDS)[band]
    band_labels = np.where(rng.random(n) < 0.04, "unknown", band_labels)

    names = _names(rng, n)
    phones = _phones(rng, number)
    id_numbers = _id_numbers(rng, place, birth)
    kyc = take(("verified", "expired", "pending"),
               rng.choice(3, n, p=[0.95, 0.035, 0.015]))  # fmt: skip
    kyc_days = np.clip(join_day + rng.integers(0, 2000, n), None, cal.days - 1)
    status_idx = np.where(closed, 2, np.where(dormant, 1, 0))
    acq_p = np.stack([1 - digital, digital, digital * 0.8, np.full(n, 0.2), np.full(n, 0.15),
                      digital * 0.4, np.full(n, 0.2)], axis=1)  # fmt: skip
    acq_p /= acq_p.sum(axis=1, keepdims=True)
    acq = (rng.random(n)[:, None] > np.cumsum(acq_p, axis=1)).sum(axis=1)

    table = pa.Table.from_arrays(
        [
            customer_id,
            pa.array(names),
            take(("male", "female", "unknown"), gender),
            pa.array(birth.astype("datetime64[D]"), pa.date32()),
            pa.array(id_numbers),
            kyc,
            pa.array((np.datetime64(cal.start) + kyc_days.astype("timedelta64[D]")), pa.date32()),
            take(("R1", "R2", "R3", "R4", "R5"), risk_tol - 1),
            pa.array(np.char.add("BR", np.char.zfill(branch.astype(str), 3))),
            take(regions, place),
            take(cities, place),
            pa.array(join_date.astype("datetime64[D]"), pa.date32()),
            take(EMPLOYMENT, employment),
            pa.nulls(n, pa.string()),
            pa.array(band_labels),
            pa.array(
                np.where(band_labels == "unknown", np.nan, np.round(monthly_income * 12, -2)),
                pa.float64(),
                from_pandas=True,
            ),
            take(("single", "married", "divorced", "widowed"), _marital(rng, age)),
            take(("primary", "secondary", "tertiary", "postgraduate"), education),
            pa.array(phones),
            _masked(pc.binary_join_element_wise(ids("u", number, 1), "@example.cn", ""), has_email),
            _masked(ids("wm", number, 1), has_wecom),
            _masked(ids("app", number, 1), app_user),
            take(zones, place),
            take(ACQUISITION, acq),
            take(("active", "dormant", "closed"), status_idx),
            pa.array(
                np.where(closed, closed_date.astype("datetime64[D]"), np.datetime64("NaT")),
                pa.date32(),
                from_pandas=True,
            ),
            pa.nulls(n, pa.string()),
        ],
        schema=CUSTOMERS.arrow_schema,
    )
    return Population(
        n=n, number=number, customer_id=customer_id, age=age, join_day=join_day,
        churn_day=churn_day, monthly_income=monthly_income, employment=employment,
        risk_tolerance=risk_tol, digital=digital, app_user=app_user, has_email=has_email,
        has_wecom=has_wecom, wealth=wealth, activity=activity, credit_risk=credit_risk,
        satisfaction=satisfaction, table=table,
    )  # fmt: skip


def _masked(values: pa.Array, keep: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(keep), values, pa.scalar(None, pa.string()))


def _join(parts: list[np.ndarray]) -> np.ndarray:
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(out, p)
    return out


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    s = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    g1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    g2 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    two = rng.random(n) < 0.65
    return np.where(two, _join([s, g1, g2]), _join([s, g1]))


def _phones(rng: np.random.Generator, number: np.ndarray) -> np.ndarray:
    """Mobile numbers, unique per customer: the last nine digits are a bijective scramble of
    the customer number (a multiplier coprime with 10^9), so no two customers share one."""
    second = rng.choice(np.array(list("3456789")), len(number))
    rest = (number * 387_420_489 + 123_456_789) % 1_000_000_000
    return _join([np.array(["1"] * len(number)), second, np.char.zfill(rest.astype(str), 9)])


def _id_numbers(rng: np.random.Generator, place: np.ndarray, birth: np.ndarray) -> np.ndarray:
    """18-character PRC resident ID numbers with a valid ISO 7064 check character."""
    area = np.array([p[3] for p in PLACES])[place]
    ymd = np.char.replace(birth.astype("datetime64[D]").astype(str), "-", "")
    seq = np.char.zfill(rng.integers(1, 1000, len(place)).astype(str), 3)
    body = _join([area, ymd, seq])
    digits = np.frombuffer(body.astype("S17").tobytes(), dtype=np.uint8).reshape(-1, 17) - 48
    check = ID_CHECK[(digits.astype(int) @ ID_WEIGHTS) % 11]
    return _join([body, check])


def _marital(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    n = len(age)
    status = np.where(age < 27, 0, 1)  # single, married
    status = np.where((age >= 27) & (rng.random(n) < 0.12), 0, status)
    status = np.where((status == 1) & (rng.random(n) < 0.08), 2, status)  # divorced
    return np.where((age > 70) & (rng.random(n) < 0.3), 3, status)  # widowed
