import { createHash } from 'node:crypto';
import type { AuthorizePageProblem } from '../auth/authorize-request';
import type { SignInMessage } from '../auth/sign-in';

/**
 * The sign-in page of the authorization endpoint (docs/users.md §2), rendered on the server so no
 * script runs where a password is typed. Every value is escaped; the only style is one fixed
 * block allowed by its hash in the Content-Security-Policy, so the page runs with no script at all.
 */

type Lang = 'zh' | 'en';

const TEXT = {
  zh: {
    title: '登录 · 厦漳泉检查检验结果互认平台',
    brand: '厦漳泉检查检验结果互认平台',
    heading: '医务人员登录',
    app: (name: string) => `登录后进入：${name}`,
    username: '用户名',
    password: '密码',
    submit: '登录',
    toggle: 'English',
    note: '仅限授权人员使用。每次登录和每次查阅都记入审计日志。',
    problemHeading: '无法登录',
    messages: {
      'wrong-credentials': '用户名或密码错误。',
      locked: (m: number) => `账户已锁定：密码连续输错次数过多。请 ${m} 分钟后再试，或请本院信息科解锁。`,
      disabled: '账户已停用，请联系本院信息科。',
      'rate-limited': '登录失败次数过多，请稍后再试。',
      'no-access': '该账户暂无访问权限（所属医院未接入平台），请联系本院信息科。',
      'expired-form': '登录页已失效，请重新输入用户名和密码。',
    },
    problems: {
      'repeated-parameter': '登录请求无效：参数重复。请从应用重新进入登录。',
      'unknown-app': '登录请求无效：该应用未在平台登记。',
      'bad-redirect-uri': '登录请求无效：回调地址未在平台登记。为安全起见，不会跳转到该地址。',
      'missing-state': '登录请求无效：缺少 state 参数。请从应用重新进入登录。',
    },
  },
  en: {
    title: 'Sign in · XZQ results recognition platform',
    brand: 'Xiamen–Zhangzhou–Quanzhou results recognition platform',
    heading: 'Staff sign-in',
    app: (name: string) => `Signing in to: ${name}`,
    username: 'User name',
    password: 'Password',
    submit: 'Sign in',
    toggle: '中文',
    note: 'Authorised staff only. Every sign-in and every record viewed is written to the audit trail.',
    problemHeading: 'Cannot sign in',
    messages: {
      'wrong-credentials': 'The user name or password is wrong.',
      locked: (m: number) => `The account is locked after too many wrong passwords. Try again in ${m} minutes, or ask your hospital's IT office to unlock it.`,
      disabled: "The account is disabled. Ask your hospital's IT office.",
      'rate-limited': 'Too many failed sign-ins. Try again later.',
      'no-access': "This account has no access (its hospital is not connected). Ask your hospital's IT office.",
      'expired-form': 'The sign-in page had expired. Enter your user name and password again.',
    },
    problems: {
      'repeated-parameter': 'Invalid sign-in request: a parameter is repeated. Start again from the app.',
      'unknown-app': 'Invalid sign-in request: the app is not registered.',
      'bad-redirect-uri': 'Invalid sign-in request: the redirect address is not registered. For your safety you are not sent there.',
      'missing-state': 'Invalid sign-in request: the state parameter is missing. Start again from the app.',
    },
  },
} as const;

const STYLE = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#eef2f6;color:#1f2933;
font-family:-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC",sans-serif}
main{width:min(420px,92vw);background:#fff;border-radius:10px;box-shadow:0 4px 24px rgba(15,40,70,.12);padding:28px 32px 24px}
header{display:flex;justify-content:space-between;align-items:baseline;gap:12px;border-bottom:1px solid #e4e8ee;padding-bottom:12px;margin-bottom:18px}
.brand{font-weight:600;color:#0b5394;font-size:15px}
.lang{font-size:13px;color:#0b5394}
h1{font-size:20px;margin:0 0 6px}
.app{margin:0 0 18px;color:#52606d;font-size:14px}
label{display:block;font-size:14px;margin:12px 0 6px}
input[type=text],input[type=password]{width:100%;padding:10px 12px;border:1px solid #c5ced8;border-radius:6px;font-size:16px}
input:focus{outline:2px solid #0b5394;outline-offset:1px}
button{margin-top:20px;width:100%;padding:11px;border:0;border-radius:6px;background:#0b5394;color:#fff;font-size:16px;cursor:pointer}
[role=alert]{background:#fdecea;color:#8a1c12;border:1px solid #f5c2bd;border-radius:6px;padding:10px 12px;font-size:14px;margin:0 0 8px}
.note{margin:18px 0 0;color:#7b8794;font-size:12px;line-height:1.5}
`;

/** The CSP source that allows exactly the style block above. */
export const SIGN_IN_STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(lang: Lang, body: string, toggleHref: string): string {
  const t = TEXT[lang];
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="same-origin">
<title>${escapeHtml(t.title)}</title><style>${STYLE}</style></head>
<body><main>
<header><span class="brand">${escapeHtml(t.brand)}</span><a class="lang" href="${escapeHtml(toggleHref)}">${escapeHtml(t.toggle)}</a></header>
${body}
<p class="note">${escapeHtml(t.note)}</p>
</main></body></html>`;
}

const toggleOf = (fields: Record<string, string>, lang: Lang) =>
  `?${new URLSearchParams({ ...fields, ui_locales: lang === 'zh' ? 'en' : 'zh-CN' }).toString()}`;

export interface SignInFormModel {
  lang: Lang;
  appName: string;
  /** the authorization request's parameters, posted back with the form */
  fields: Record<string, string>;
  csrf: string;
  message?: SignInMessage;
  username?: string;
  lockMinutes: number;
}

export function renderSignInForm(m: SignInFormModel): string {
  const t = TEXT[m.lang];
  const hidden = Object.entries({ ...m.fields, csrf: m.csrf })
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('\n');
  const msg = m.message ? (m.message === 'locked' ? t.messages.locked(m.lockMinutes) : t.messages[m.message]) : undefined;
  const body = `<h1>${escapeHtml(t.heading)}</h1>
<p class="app">${escapeHtml(t.app(m.appName))}</p>
${msg ? `<p role="alert">${escapeHtml(msg)}</p>` : ''}
<form method="post" action="authorize" autocomplete="on">
${hidden}
<label for="username">${escapeHtml(t.username)}</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="64" required${m.username ? ` value="${escapeHtml(m.username)}"` : ' autofocus'}>
<label for="password">${escapeHtml(t.password)}</label>
<input type="password" id="password" name="password" autocomplete="current-password" maxlength="256" required${m.username ? ' autofocus' : ''}>
<button type="submit">${escapeHtml(t.submit)}</button>
</form>`;
  return page(m.lang, body, toggleOf({ ...m.fields }, m.lang));
}

export function renderSignInProblem(lang: Lang, problem: AuthorizePageProblem, query: Record<string, string>): string {
  const t = TEXT[lang];
  return page(lang, `<h1>${escapeHtml(t.problemHeading)}</h1>\n<p role="alert">${escapeHtml(t.problems[problem])}</p>`, toggleOf(query, lang));
}
