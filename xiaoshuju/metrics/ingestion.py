"""Metrics of the ingestion area (ops.reconciliation, ops.identity_match_rate, quarantine.rows)."""

from xiaoshuju.metrics import Metric, register

_T = "ops.reconciliation"

register(
    Metric(
        "rows_in",
        "读入行数",
        "Rows in",
        "文件中的数据记录数（不含表头）",
        "Data records in the file (header excluded)",
        "count",
        "{:,.0f}",
        _T,
    ),
    Metric(
        "rows_loaded",
        "入库行数",
        "Rows loaded",
        "通过数据契约、写入标准表的记录数",
        "Records that met the data contract and were loaded into staging",
        "count",
        "{:,.0f}",
        _T,
    ),
    Metric(
        "rows_quarantined",
        "隔离行数",
        "Rows quarantined",
        "未入库、写入隔离区（含原因代码）的记录数；整文件无法读取时为该文件的全部记录",
        "Records not loaded, kept in quarantine with a reason code; all records of a file that cannot be read",
        "count",
        "{:,.0f}",
        _T,
    ),
    Metric(
        "quarantine_rate",
        "隔离率",
        "Quarantine rate",
        "隔离行数 ÷ 读入行数",
        "rows_quarantined ÷ rows_in",
        "ratio",
        "{:.2%}",
        _T,
    ),
    Metric(
        "match_rate",
        "身份匹配率",
        "Identity match rate",
        "该来源识别出的成员中，也出现在至少一个其他来源的成员占比（按手机号、微信号、企业微信 ID、unionid、平台买家 ID 精确匹配）",
        "Share of the members seen in a source that are also known from at least one other source (exact "
        "matches on phone, wxid, WeCom ids, unionid, platform buyer id)",
        "ratio",
        "{:.1%}",
        "ops.identity_match_rate",
    ),
)
