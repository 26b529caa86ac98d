"""A legal-aid application as a printable summary for staff (HTML and PDF).

The PDF uses reportlab's built-in Chinese CID font (STSong-Light), so no font
file has to be installed on the server.
"""

from __future__ import annotations

import html
import io
import time

from bot.store.legal_aid_applications import Application
from knowledge_base.chinese_numerals import to_chinese_number

CATEGORY_NAMES = {
    "labour": "劳动",
    "lease": "租房",
    "gig_work": "平台用工",
    "elevator": "加装电梯",
    "other_legal": "其他",
}
OUTCOME_NAMES = {"likely_eligible": "初步看符合申请条件", "needs_review": "需要工作人员审查"}
FIELDS = (
    ("申请人", "applicant_name"),
    ("手机号", "applicant_phone"),
    ("所在街道", "applicant_street"),
    ("纠纷类别", "intake_category"),
    ("对方", "intake_other_party"),
    ("涉及金额", "intake_amount"),
    ("情况描述", "intake_description"),
)


def summary_rows(application: Application) -> list[tuple[str, str]]:
    record = application.record
    rows = [(label, str(record.get(key) or "—")) for label, key in FIELDS]
    rows[3] = ("纠纷类别", CATEGORY_NAMES.get(record.get("intake_category") or "", "—"))
    art31 = int(record.get("art31") or 0)
    rows += [
        ("法律援助法第三十一条", f"第（{to_chinese_number(art31)}）项" if art31 else "不在列明事项中"),
        (
            "经济困难",
            "不受经济困难条件限制（第三十二条）"
            if int(record.get("art32") or 0) in (1, 2, 3, 4)
            else ("已按告知承诺制承诺" if record.get("intake_hardship") else "未承诺，需审查"),
        ),
        ("个人信息处理", "申请人已同意" if record.get("consent") else "未同意"),
        ("初步结果", OUTCOME_NAMES.get(application.outcome, application.outcome)),
        ("理由", str(record.get("reason") or "")),
        ("提交时间", time.strftime("%Y-%m-%d %H:%M", time.localtime(application.created_at))),
        ("编号", application.public_id),
    ]
    return rows


def render_html(application: Application) -> str:
    rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in summary_rows(application)
    )
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
    data = [
        [Paragraph(html.escape(k), cell), Paragraph(html.escape(v).replace("\n", "<br/>"), cell)]
        for k, v in summary_rows(application)
    ]
    table = Table(data, colWidths=[110, 380])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "#999999"), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=f"法律援助申请摘要 {application.public_id}")
    document.build(
        [
            Paragraph("法律援助申请摘要", title),
            Paragraph("海珠区公共法律服务智能助手在线受理 · 初步结果仅供参考，以法律援助机构审查决定为准", cell),
            Spacer(1, 12),
            table,
        ]
    )
    return buffer.getvalue()
