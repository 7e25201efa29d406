/**
 * ORU^R01 samples for the hl7v2 adapter tests, as LIS/RIS systems of the region send them.
 * Segments are joined by the caller's segment end (CR, LF or CRLF).
 */
export const NID = '350203199001010018';
export const NID2 = '350503198506150026';

export function cbcV251(opts: { filler?: string; status?: string; reportedAt?: string; hb?: string; nid?: string } = {}): string[] {
  const filler = opts.filler ?? 'L2024030100012';
  const status = opts.status ?? 'F';
  return [
    `MSH|^~\\&|LIS|XMZSH|XZQ-HIE|XZQ|20240301103000||ORU^R01^ORU_R01|MSG${filler}${status}|P|2.5.1|||AL|NE|CHN|UNICODE UTF-8`,
    `PID|1||M000123^^^XMZSH^MR~${opts.nid ?? NID}^^^CHN&2.16.156.10011.1.3&ISO^NI~M000999^^^XMZSH^MR||林^小明||19900101|M`,
    'PV1|1|O',
    `ORC|RE|P998|${filler}`,
    `OBR|1|P998|${filler}|CBC001^血常规^L||20240301083000|20240301083000|||||||||||||||${opts.reportedAt ?? '20240301102500'}||HM|${status}`,
    `OBX|1|NM|718-7^血红蛋白^LN||${opts.hb ?? '135'}|g/L|130-175|N|||${status}|||20240301083000`,
    `OBX|2|NM|WBC^白细胞计数^L||11.2|×10^9/L|3.5-9.5|H|||${status}`,
    `OBX|3|NM|PLT^血小板^L||<5.0|10^9/L|125~350|↓|||${status}`,
    `OBX|4|ST|HBSAG^乙肝表面抗原^L||阴性||阴性|N|||${status}`,
    `OBX|5|TX|NOTE^备注^L||标本轻度溶血\\.br\\结果仅供参考||||||${status}`,
    `OBX|6|CE|ABO^ABO血型^L||A^A型^L||||||${status}`,
    `OBX|7|NM|CRP^C反应蛋白^L||8.2|mg/L|>1.0|HH|||${status}`,
  ];
}

export function chemV23(opts: { filler?: string; status?: string } = {}): string[] {
  const filler = opts.filler ?? '20240302-0007';
  const status = opts.status ?? 'F';
  return [
    'MSH|^~\\&|LIS|QZYY|XZQ-HIE|XZQ|202403021015||ORU^R01|C20240302|P|2.3',
    `PID|1||Q55667^^^QZYY^MR~${NID2}^^^^NI||陈^美丽||19850615|F`,
    `OBR|1|A1|${filler}|RENAL^肾功能^L||202403020800|202403020800||||||||SER|||||||202403021010||CH|${status}`,
    `OBX|1|NM|CREA^肌酐^L||88|μmol/L|57-111|N|||${status}`,
    `OBX|2|NM|ALT^丙氨酸氨基转移酶^L||56|IU/L|9-50|H|||${status}`,
  ];
}

export function ctV24(opts: { filler?: string; status?: string } = {}): string[] {
  const filler = opts.filler ?? 'RIS77001';
  const status = opts.status ?? 'F';
  return [
    'MSH|^~\\&|RIS|XMZSH|XZQ-HIE|XZQ|20240305160000||ORU^R01|R77001|P|2.4',
    `PID|1||${NID}^^^^NI~M000123^^^XMZSH^MR||林^小明`,
    `OBR|1|PL77001|${filler}|CT-CHEST^胸部CT平扫^XZQEXAM||20240305140000|20240305140000||||||||^^^胸部|||ACC77001||||20240305155000||CT|${status}`,
    'OBX|1|ST|113014^Study Instance UID^DCM||1.2.840.113619.2.55.3.604688119.971.1709622000.1||||||F',
    'OBX|2|ST|121139^Modality^DCM||CT||||||F',
    'OBX|3|TX|18782-3^检查所见^LN||双肺纹理清晰\\.br\\未见明确结节||||||F',
    'OBX|4|TX|19005-8^诊断意见^LN||胸部CT平扫未见异常||||||F',
  ];
}

export const join = (segments: string[], end = '\r') => segments.join(end) + end;
