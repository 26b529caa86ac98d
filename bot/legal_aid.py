"""Legal-aid applications: stored from the intake form, listed for staff,
and rendered as a printable summary (HTML and PDF).

The PDF uses reportlab's built-in Chinese CID font (STSong-Light), so no font
file has to be installed on the server.
"""
from __future__ import annotations

import html
import io
import time
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.models import LegalAidApplication
from bot.privacy import mask_personal_data
from knowledge_base.chinese_numerals import to_chinese_number

CATEGORY_NAMES = {"labour": "劳动", "lease": "租房", "gig_work": "平台用工", "elevator": "加装电梯",
                  "other_legal": "其他"}
OUTCOME_NAMES = {"likely_eligible": "初步看符合申请条件", "needs_review": "需要工作人员审查"}
FIELDS = (("申请人", "applicant_name"), ("手机号", "applicant_phone"), ("所在街道", "applicant_street"),
          ("纠纷类别", "intake_category"), ("对方", "intake_other_party"), ("涉及金额", "intake_amount"),
          ("情况描述", "intake_description"))


@dataclass(frozen=True)
class Application:
    id: int
    public_id: str
    resident_id: str
    outcome: str
    category: Optional[str]
    street: Optional[str]
    record: dict[str, Any]
    created_at: float

    @classmethod
    def of(cls, row: LegalAidApplication) -> "Application":
        return cls(row.id, row.public_id, row.resident_id, row.outcome, row.category, row.street, row.record,
                   row.created_at)

    def listing(self) -> dict[str, Any]:
        """For lists: no description, phone masked."""
        return {"id": self.public_id, "number": self.id, "outcome": self.outcome, "category": self.category, "street": self.street,
                "applicant": self.record.get("applicant_name"),
                "phone": mask_personal_data(self.record.get("applicant_phone") or ""),
                "created_at": self.created_at}

    def rows(self) -> list[tuple[str, str]]:
        record = self.record
        rows = [(label, str(record.get(key) or "—")) for label, key in FIELDS]
        rows[3] = ("纠纷类别", CATEGORY_NAMES.get(record.get("intake_category") or "", "—"))
        art31 = int(record.get("art31") or 0)
        rows += [
            ("法律援助法第三十一条", f"第（{to_chinese_number(art31)}）项" if art31 else "不在列明事项中"),
            ("经济困难", "不受经济困难条件限制（第三十二条）" if int(record.get("art32") or 0) in (1, 2, 3, 4)
             else ("已按告知承诺制承诺" if record.get("intake_hardship") else "未承诺，需审查")),
            ("个人信息处理", "申请人已同意" if record.get("consent") else "未同意"),
            ("初步结果", OUTCOME_NAMES.get(self.outcome, self.outcome)),
            ("理由", str(record.get("reason") or "")),
            ("提交时间", time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created_at))),
            ("编号", self.public_id),
        ]
        return rows


class ApplicationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def create(self, resident_id: str, record: dict[str, Any]) -> Application:
        row = LegalAidApplication(public_id=uuid.uuid4().hex, resident_id=resident_id,
                                  outcome=str(record.get("outcome")), category=record.get("intake_category"),
                                  street=record.get("applicant_street"), record=record, created_at=time.time())
        async with self._sessions.begin() as session:
            session.add(row)
        return Application.of(row)

    async def get(self, public_id: str) -> Optional[Application]:
        async with self._sessions() as session:
            row = (await session.execute(select(LegalAidApplication)
                                         .where(LegalAidApplication.public_id == public_id))).scalar_one_or_none()
            return Application.of(row) if row and row.purged_at is None else None

    async def recent(self, limit: int = 100) -> list[Application]:
        async with self._sessions() as session:
            rows = (await session.execute(select(LegalAidApplication).where(LegalAidApplication.purged_at.is_(None))
                                          .order_by(LegalAidApplication.id.desc()).limit(limit))).scalars()
            return [Application.of(r) for r in rows]


def render_html(application: Application) -> str:
    rows = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in application.rows())
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>法律援助申请摘要 {html.escape(application.public_id)}</title>
<style>body{{font-family:sans-serif;max-width:720px;margin:2em auto}}th{{text-align:left;width:10em;
vertical-align:top;padding:.3em}}td{{padding:.3em;white-space:pre-wrap}}table{{border-collapse:collapse;width:100%}}
tr{{border-bottom:1px solid #ccc}}@media print{{body{{margin:0}}}}</style></head>
<body><h1>法律援助申请摘要</h1><p>海珠区公共法律服务智能助手在线受理 · 初步结果仅供参考，以法律援助机构审查决定为准</p>
<table>{rows}</table></body></html>"""


def render_pdf(application: Application) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    title = ParagraphStyle("title", fontName="STSong-Light", fontSize=16, leading=22)
    cell = ParagraphStyle("cell", fontName="STSong-Light", fontSize=10, leading=15, wordWrap="CJK")
    data = [[Paragraph(html.escape(k), cell), Paragraph(html.escape(v).replace("\n", "<br/>"), cell)]
            for k, v in application.rows()]
    table = Table(data, colWidths=[110, 380])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "#999999"), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=f"法律援助申请摘要 {application.public_id}")
    document.build([Paragraph("法律援助申请摘要", title),
                    Paragraph("海珠区公共法律服务智能助手在线受理 · 初步结果仅供参考，以法律援助机构审查决定为准", cell),
                    Spacer(1, 12), table])
    return buffer.getvalue()
