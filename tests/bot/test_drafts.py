"""The drafted 劳动仲裁申请书 / 人民调解申请书, rendered and read back: PDF with
pypdf, Word with python-docx. Nothing invented: what the record lacks is a
marked blank."""

from __future__ import annotations

import io

import docx
import pypdf

from bot.web.drafts import BLANK, draft_text, render_docx, render_pdf

RECORD = {
    "kind": "labour_arbitration",
    "respondent": None,
    "claims": [
        {"text": "支付解除劳动合同的经济补偿36,000元", "basis": "《劳动合同法》第四十七条"},
        {"text": "支付代通知金（额外一个月工资）9,000元", "basis": "《劳动合同法》第四十条"},
    ],
    "hints": ["如认为单位违法解除，可将第1项改为「支付违法解除劳动合同的赔偿金72,000元」"],
    "facts": ["申请人于2021年2月15日入职被申请人处工作，月工资9,000元。", "申请人自述：公司说我不能胜任工作把我辞退了"],
    "evidence": ["解除通知、聊天记录或录音", "劳动合同、入职时间证明、近十二个月工资流水"],
}


def pdf_text(body: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages).replace(" ", "")


def test_the_pdf_says_what_the_conversation_gave_and_marks_the_rest() -> None:
    body = render_pdf(RECORD)
    assert body.startswith(b"%PDF")
    text = pdf_text(body)
    assert "劳动人事争议仲裁申请书" in text and "海珠区劳动人事争议仲裁委员会" in text
    assert "1.支付解除劳动合同的经济补偿36,000元（依据《劳动合同法》第四十七条）" in text
    assert "公司说我不能胜任工作把我辞退了" in text and "近十二个月工资流水" in text
    assert f"名称：{BLANK}" in text  # no employer was named: blank, not guessed
    assert text.count(BLANK) >= 10  # name, ID number, address, phone, signature, date …


def test_the_word_document_is_editable_text_and_mediation_goes_to_the_street() -> None:
    record = {
        **RECORD,
        "kind": "people_mediation",
        "respondent": "广州某某物流有限公司",
        "addressee": "赤岗街道人民调解委员会",
    }
    document = docx.Document(io.BytesIO(render_docx(record)))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "人民调解申请书"
    assert "名称：广州某某物流有限公司" in paragraphs and "赤岗街道人民调解委员会" in paragraphs
    assert "\n".join(paragraphs) == draft_text(record)


def test_an_empty_record_is_all_blanks_not_made_up_claims() -> None:
    text = draft_text({"kind": "labour_arbitration"})
    assert f"1. {BLANK}" in text and "元" not in text
