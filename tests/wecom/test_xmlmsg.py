"""Message XML: nested dicts, repeated elements, CDATA, and refusing DTDs."""

from __future__ import annotations

import pytest

from points.wecom.xmlmsg import (
    ForbiddenXmlError,
    MalformedXmlError,
    as_list,
    build_xml,
    parse_xml,
)

APPROVAL_WITH_TWO_NODES = """<xml>
<ApprovalInfo>
  <SpNo>1</SpNo>
  <Applyer><UserId><![CDATA[zhangsan]]></UserId><Party><![CDATA[2]]></Party></Applyer>
  <SpRecord>
    <SpStatus>2</SpStatus>
    <Details><Approver><UserId><![CDATA[lisi]]></UserId></Approver><SpTime>10</SpTime></Details>
  </SpRecord>
  <SpRecord>
    <SpStatus>1</SpStatus>
    <Details><Approver><UserId><![CDATA[wangwu]]></UserId></Approver><SpTime>0</SpTime></Details>
    <Details><Approver><UserId><![CDATA[zhaoliu]]></UserId></Approver><SpTime>0</SpTime></Details>
  </SpRecord>
</ApprovalInfo>
</xml>"""


def test_nested_elements_and_repeated_lists() -> None:
    message = parse_xml(APPROVAL_WITH_TWO_NODES)
    info = message["ApprovalInfo"]
    assert info["Applyer"] == {"UserId": "zhangsan", "Party": "2"}
    assert isinstance(info["SpRecord"], list)
    assert info["SpRecord"][0]["Details"]["Approver"]["UserId"] == "lisi"
    second = info["SpRecord"][1]["Details"]
    assert [d["Approver"]["UserId"] for d in second] == ["wangwu", "zhaoliu"]


def test_three_repeats_stay_one_flat_list() -> None:
    assert parse_xml("<xml><T>a</T><T>b</T><T>c</T></xml>") == {"T": ["a", "b", "c"]}


def test_empty_elements_are_empty_strings() -> None:
    assert parse_xml("<xml><A/><B><![CDATA[]]></B></xml>") == {"A": "", "B": ""}


def test_as_list() -> None:
    assert as_list(None) == []
    assert as_list("") == []
    assert as_list({"a": 1}) == [{"a": 1}]
    assert as_list([1, 2]) == [1, 2]


def test_build_then_parse_round_trip() -> None:
    fields = {
        "Text": "a ]]> b <c> & d 中文",
        "Number": 12,
        "Nested": {"UserId": "zhangsan"},
        "Repeated": ["x", "y"],
    }
    assert parse_xml(build_xml(fields)) == {
        "Text": "a ]]> b <c> & d 中文",
        "Number": "12",
        "Nested": {"UserId": "zhangsan"},
        "Repeated": ["x", "y"],
    }


@pytest.mark.parametrize(
    "text",
    [
        "<!DOCTYPE xml [<!ELEMENT xml ANY>]><xml><A>1</A></xml>",
        '<!DOCTYPE xml [<!ENTITY e "x">]><xml><A>&e;</A></xml>',
        '<!DOCTYPE xml SYSTEM "http://example.invalid/x.dtd"><xml/>',
    ],
)
def test_dtds_and_entities_are_forbidden(text: str) -> None:
    with pytest.raises(ForbiddenXmlError):
        parse_xml(text)


@pytest.mark.parametrize("text", ["", "<xml>", "<xml><A></B></xml>", "<xml>loose text</xml>"])
def test_malformed(text: str) -> None:
    with pytest.raises(MalformedXmlError):
        parse_xml(text)
