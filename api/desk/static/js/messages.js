// The API's problems in words a clerk understands, in the page's language.
const WORDS = {
  vi: {
    'unauthenticated': 'Không xác thực được: khóa không đúng, đã bị thu hồi, hoặc phiên đã hết hạn. Hãy đăng nhập lại.',
    'forbidden': 'Cơ quan của bạn không được làm việc này.',
    'not-found': 'Không tìm thấy (văn bản, tệp hoặc cơ quan không tồn tại).',
    'invalid-input': 'Dữ liệu nhập chưa đúng',
    'invalid-command': 'Lệnh không hợp lệ',
    'illegal-transition': 'Trạng thái hiện tại của văn bản không cho phép thao tác này.',
    'duplicate': 'Đã có (trùng lặp).',
    'unknown-key': 'Khóa này không thuộc cơ quan đã chọn.',
    'key-revoked': 'Khóa này đã bị thu hồi.',
    'digest-mismatch': 'Tệp đính kèm không khớp với mã băm: tệp đã bị thay đổi.',
    'payload-too-large': 'Tệp quá lớn.',
    'not-pkcs8': 'Tệp khóa không phải khóa bí mật PKCS#8 (PEM) do docledger keygen tạo.',
    'no-key': 'Chưa có khóa trong trình duyệt: hãy chọn tệp khóa.',
    'network': 'Không kết nối được tới máy chủ.',
    'no-recipients': 'Hãy chọn ít nhất một nơi nhận.',
    'unknown': 'Có lỗi xảy ra',
  },
  en: {
    'unauthenticated': 'Not authenticated: wrong or revoked key, or the session has expired. Sign in again.',
    'forbidden': 'Your agency may not do this.',
    'not-found': 'Not found (no such document, file or agency).',
    'invalid-input': 'Some input is not right',
    'invalid-command': 'The command is not valid',
    'illegal-transition': "The document's current state does not allow this.",
    'duplicate': 'Already there (a duplicate).',
    'unknown-key': 'This key is not a key of the chosen agency.',
    'key-revoked': 'This key has been revoked.',
    'digest-mismatch': 'The attachment does not match its digest: the file was changed.',
    'payload-too-large': 'The file is too large.',
    'not-pkcs8': 'The key file is not a PKCS#8 private key (PEM) as docledger keygen writes.',
    'no-key': 'No key in this browser yet: choose the key file.',
    'network': 'The server cannot be reached.',
    'no-recipients': 'Choose at least one recipient.',
    'unknown': 'Something went wrong',
  },
};

export const lang = () => (document.documentElement.lang === 'en' ? 'en' : 'vi');
export const word = (key) => WORDS[lang()][key] || key;

// an error (ProblemError, Error) as one sentence for the clerk, the API's detail after
export function explain(error) {
  const words = WORDS[lang()];
  if (error && error.problem) {
    const code = String(error.problem.type || '').split(':').pop();
    const known = words[code] || words.unknown;
    const detail = error.problem.detail ? ` (${error.problem.detail})` : '';
    return known + detail;
  }
  if (error instanceof TypeError) return words.network;
  const key = error && error.message;
  return words[key] || `${words.unknown}: ${key}`;
}
