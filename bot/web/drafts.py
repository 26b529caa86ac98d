"""The resident's 劳动仲裁申请书 or 人民调解申请书, drafted from the conversation,
as PDF (reportlab, its built-in Chinese CID font) and as an editable Word
document (python-docx), for the resident to check, complete and sign.

Nothing is invented: the parties are what the resident gave (none: a blank
marked 【请填写】), the claims are the calculator's amounts with their articles,
the facts are the resident's own words and the dates and wage they answered,
the evidence list is the knowledge card's. Every blank is marked.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from typing import Any

BLANK = "【请填写】"
KINDS = {
    "labour_arbitration": ("劳动人事争议仲裁申请书", "海珠区劳动人事争议仲裁委员会"),
    "people_mediation": ("人民调解申请书", "所在街道人民调解委员会"),
}
NOTE = (
    "本草稿由海珠区公共法律服务智能助手按您在对话中提供的情况生成，金额按法律规定的标准计算，"
    "仅供参考；请核对每一项、补全标有【请填写】的内容后签名提交。"
)


@dataclass(frozen=True)
class Line:
    style: str  # title | heading | text | note
    text: str


def _or_blank(value: Any) -> str:
    text = str(value or "").strip()
    return text or BLANK


def draft_lines(record: dict[str, Any]) -> list[Line]:
    title, addressee = KINDS.get(str(record.get("kind")), KINDS["labour_arbitration"])
    addressee = str(record.get("addressee") or addressee)
    lines = [
        Line("title", title),
        Line("note", NOTE),
        Line("heading", "申请人："),
        Line("text", f"姓名：{BLANK}　性别：{BLANK}　出生日期：{BLANK}"),
        Line("text", f"身份证号码：{BLANK}"),
        Line("text", f"住址：{BLANK}　联系电话：{BLANK}"),
        Line("heading", "被申请人："),
        Line("text", f"名称：{_or_blank(record.get('respondent'))}"),
        Line("text", f"统一社会信用代码：{BLANK}　法定代表人：{BLANK}"),
        Line("text", f"地址：{BLANK}　联系电话：{BLANK}"),
        Line("heading", "请求事项："),
    ]
    claims = record.get("claims") or []
    if not claims:
        lines.append(Line("text", f"1. {BLANK}"))
    for number, claim in enumerate(claims, start=1):
        basis = f"（依据{claim['basis']}）" if claim.get("basis") else ""
        lines.append(Line("text", f"{number}. {claim['text']}{basis}"))
    for hint in record.get("hints") or []:
        lines.append(Line("note", f"提示：{hint}"))
    lines.append(Line("heading", "事实与理由："))
    facts = [str(f) for f in record.get("facts") or [] if str(f).strip()]
    lines += [Line("text", f) for f in facts] or [Line("text", BLANK)]
    lines.append(Line("heading", "证据清单："))
    evidence = record.get("evidence") or []
    lines += [Line("text", f"{i}. {e}") for i, e in enumerate(evidence, start=1)] or [Line("text", BLANK)]
    lines += [
        Line("text", "此致"),
        Line("text", addressee),
        Line("text", f"申请人（签名）：{BLANK}"),
        Line("text", f"日期：{BLANK}年{BLANK}月{BLANK}日"),
    ]
    return lines


def draft_text(record: dict[str, Any]) -> str:
    return "\n".join(line.text for line in draft_lines(record))


def render_pdf(record: dict[str, Any]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    styles = {
        "title": ParagraphStyle("title", fontName="STSong-Light", fontSize=18, leading=26, alignment=1),
        "heading": ParagraphStyle("heading", fontName="STSong-Light", fontSize=12, leading=20, spaceBefore=8),
        "text": ParagraphStyle("text", fontName="STSong-Light", fontSize=11, leading=18, wordWrap="CJK"),
        "note": ParagraphStyle("note", fontName="STSong-Light", fontSize=9, leading=14, wordWrap="CJK"),
    }
    story: list[Any] = []
    for line in draft_lines(record):
        story.append(Paragraph(html.escape(line.text), styles[line.style]))
        if line.style == "title":
            story.append(Spacer(1, 6))
    buffer = io.BytesIO()
    title = KINDS.get(str(record.get("kind")), KINDS["labour_arbitration"])[0]
    SimpleDocTemplate(buffer, pagesize=A4, title=title).build(story)
    return buffer.getvalue()


def render_docx(record: dict[str, Any]) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = "SimSun"
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")  # Word picks East Asian text's font here
    for line in draft_lines(record):
        paragraph = document.add_paragraph()
        run = paragraph.add_run(line.text)
        if line.style == "title":
            run.bold, run.font.size = True, Pt(18)
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif line.style == "heading":
            run.bold = True
        elif line.style == "note":
            run.font.size = Pt(9)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
