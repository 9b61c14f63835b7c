"""The supplier's commitment letter (供应商入驻承诺书), versioned.

A supplier joins on credit and commitment (信用+承诺): it signs this letter
instead of proving eligibility up front. Every acceptance stores the version
and the SHA-256 of the exact text signed.
"""

from __future__ import annotations

import hashlib

CURRENT_VERSION = "2026.1"

LETTERS = {
    "2026.1": """供应商入驻承诺书（2026.1 版）

本单位自愿申请入驻政府采购电子卖场，郑重承诺：
一、具有独立承担民事责任的能力，具有良好的商业信誉和健全的财务会计制度；
二、具有履行合同所必需的设备和专业技术能力，有依法缴纳税收和社会保障资金的良好记录；
三、参加政府采购活动前三年内，在经营活动中没有重大违法记录，未被列入失信被执行人、重大税收违法失信主体、政府采购严重违法失信行为记录名单；
四、所提交的入驻资料真实、合法、有效，如有变更及时更新；
五、上架商品真实、合法，价格不高于同期市场价格，按规定提供售后服务；
六、严格履行合同，不拒绝履约，不以任何方式损害采购人利益；
七、入驻及交易不收取任何费用，本单位不以任何名义向任何人支付入驻费用。

如违反上述承诺，本单位愿意接受取消入驻资格、列入不良行为记录等联合惩戒，并承担相应法律责任。

Supplier commitment letter (version 2026.1). The supplier declares that it can bear civil
liability, keeps sound accounts, pays taxes and social security, has no record of serious
violations and is on no dishonesty list; that its documents and listings are true; that its
prices do not exceed the market's; that it will perform its contracts and provide after-sales
service; and that joining and trading are free of any fee. Breaking this commitment leads to
removal from the mall, a credit record and joint punishment.
""",
}


def letter(version: str = CURRENT_VERSION) -> str:
    return LETTERS[version]


def text_sha256(version: str) -> str:
    return hashlib.sha256(LETTERS[version].encode()).hexdigest()
