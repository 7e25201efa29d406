import { existsSync } from 'node:fs';
import type PDFKitDocument from 'pdfkit';
import type { ReportEntry } from './access-report';

/**
 * The access report as a printable PDF in Chinese (docs/audit.md §6), for a registrar to hand to
 * the resident. pdfkit (well kept, pure JavaScript, embeds only the glyphs used) with a CJK font from
 * the system: Debian's fonts-noto-cjk by default (`reports.fontFile`).
 */

export const DEFAULT_CJK_FONT = { file: '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc', family: 'NotoSansCJKsc-Regular' };

const PURPOSES: Record<string, string> = { TREAT: '诊疗', ETREAT: '紧急诊疗（破窗）', BTG: '紧急访问（破窗）', HOPERAT: '运营/监管' };
const ROLES: Record<string, string> = { clinician: '医生', doctor: '医生', registrar: '登记员', auditor: '审计员' };
const OUTCOMES: Record<ReportEntry['outcome'], string> = { permitted: '已查阅', refused: '已拒绝', failed: '未完成' };

/**
 * pdfkit, loaded when the first report is printed. Why: with its font and compression code it is
 * ~5 MB of the gateway's ~40 MB of long-lived heap, which every full garbage collection marks
 * again (under load, more than once a second) for a report a registrar prints now and then.
 */
let pdfkit: typeof PDFKitDocument | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadPdfKit = (): typeof PDFKitDocument => (pdfkit ??= require('pdfkit') as typeof PDFKitDocument);

export function fontAvailable(font = DEFAULT_CJK_FONT): boolean {
  return existsSync(font.file);
}

/** Beijing time as residents read it: 2026-11-29 10:00 */
const beijing = (iso: string) => new Date(Date.parse(iso) + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');

export function renderAccessReportPdf(
  report: { residentLabel: string; from: string; to: string; generated: string; entries: ReportEntry[]; truncated: boolean },
  font = DEFAULT_CJK_FONT,
): Promise<Buffer> {
  const PDFDocument = loadPdfKit();
  return new Promise((resolve, reject) => {
    // No metadata that names the resident: the file may travel by e-mail.
    const doc = new PDFDocument({ size: 'A4', margin: 48, info: { Title: '个人健康信息查阅记录', Producer: 'XZQ results gateway', Creator: 'XZQ results gateway' } });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    doc.font(font.file, font.family);

    doc.fontSize(18).text('个人健康信息查阅记录', { align: 'center' });
    doc.moveDown(0.3).fontSize(10).fillColor('#444').text('厦漳泉检查检验结果互认平台', { align: 'center' });
    doc.moveDown(1).fillColor('#000').fontSize(11);
    doc.text(`居民：${report.residentLabel}`);
    doc.text(`期间：${report.from} 至 ${report.to}`);
    doc.text(`生成时间：${beijing(report.generated)}（北京时间）`);
    doc.text(`记录条数：${report.entries.length}${report.truncated ? '（仅列出最近的记录，完整记录请向平台申请）' : ''}`);
    doc.moveDown(0.6).fontSize(9).fillColor('#444')
      .text('依据《个人信息保护法》第四十四条、第四十五条，您有权知悉谁在何时、为何目的查阅了您的检查检验信息。本记录来自平台防篡改审计日志，只列出查阅的种类与项目，不含检查检验结果数值。标注“破窗”的为紧急情况下未经授权的查阅，附其填写的理由。“监管查询”为卫生健康主管部门的审计核查，不列工作人员姓名。');
    doc.moveDown(0.8).fillColor('#000');

    const cols = [
      { title: '时间', w: 70 },
      { title: '机构（城市）', w: 136 },
      { title: '人员 / 角色', w: 70 },
      { title: '目的', w: 72 },
      { title: '查阅内容', w: 104 },
      { title: '结果', w: 44 },
    ];
    const left = doc.page.margins.left;
    const row = (cells: string[], bold = false) => {
      const y = doc.y;
      const heights = cells.map((c, i) => doc.fontSize(8.5).heightOfString(c, { width: cols[i]!.w - 4 }));
      const h = Math.max(...heights) + 6;
      if (y + h > doc.page.height - doc.page.margins.bottom) {
        doc.addPage();
        return row(cells, bold);
      }
      let x = left;
      cells.forEach((c, i) => {
        doc.fontSize(8.5).fillColor(bold ? '#0b5394' : '#000').text(c, x + 2, y + 3, { width: cols[i]!.w - 4 });
        x += cols[i]!.w;
      });
      doc.moveTo(left, y + h).lineTo(x, y + h).strokeColor('#ccc').lineWidth(0.5).stroke();
      doc.x = left;
      doc.y = y + h;
    };
    row(cols.map((c) => c.title), true);
    for (const e of report.entries) {
      const org = e.supervision ? '卫生健康监管（审计）' : e.organization ? `${e.organization.name ?? e.organization.id}${e.organization.city ? `（${e.organization.city}）` : ''}` : e.client ?? '—';
      const role = e.person?.role ? ROLES[e.person.role] ?? e.person.role : undefined;
      const person = e.supervision ? '监管查询' : e.person ? `${e.person.name ?? e.person.staffId ?? ''}${role ? ` / ${role}` : ''}` : '系统';
      const purpose = `${PURPOSES[e.purpose ?? ''] ?? e.purpose ?? '—'}${e.breakGlassReason ? `\n理由：${e.breakGlassReason}` : ''}`;
      const what = `${e.accessed}${e.items.length ? `\n${e.items.join('、')}` : ''}`;
      row([beijing(e.when), org, person, purpose, what, OUTCOMES[e.outcome]]);
    }
    if (report.entries.length === 0) doc.moveDown().fontSize(10).text('此期间没有查阅记录。');
    doc.end();
  });
}
