/**
 * A stand-in PKCS#11 module, compiled by the test with the machine's C compiler against pkcs11js's own
 * PKCS#11 2.40 headers: one token in one slot, a session, one object with a 256-byte CKA_VALUE, a "signature"
 * that is the data reversed, PIN 123456. Built with HANG=<function>, that function never returns: it waits
 * for a mutex it already holds, as OpenSC's C_Initialize once did in sc_lock. With CRASH=<function>, that
 * function dereferences NULL (as ykcs11 2.2's C_Sign does on a slot without a certificate). With SLOT_LIST_RACE=<n>,
 * the first n slot lists are refused with CKR_BUFFER_TOO_SMALL after the count said one slot: what OpenSC answers
 * when a card is inserted in another reader between the count and the list (seen in a 4-reader batch).
 * Handles are 64-bit values with distinct bytes, and each call checks the one it gets: a handle that did not
 * cross the process boundary intact is an error (CKR_SESSION_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const STUB_PIN = '123456';
export const STUB_SLOT_DESCRIPTION = 'Stub Reader 00 00';
/** CKA_VALUE of the object: every byte value once, zeros included. */
export const STUB_OBJECT_VALUE = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

const SOURCE = String.raw`
#include <pthread.h>
#include <string.h>
#include <pkcs11.h>

#define SESSION ((CK_SESSION_HANDLE)0x0102030405060708ULL)
#define OBJECT ((CK_OBJECT_HANDLE)0x1122334455667788ULL)
#define SLOT ((CK_SLOT_ID)7)

#define HANG_IF(name) do { if (strcmp(HANG, name) == 0) hang(); if (strcmp(CRASH, name) == 0) *(volatile int *)0 = 0; } while (0)
#ifndef HANG
#define HANG ""
#endif
#ifndef CRASH
#define CRASH ""
#endif
#ifndef SLOT_LIST_RACE
#define SLOT_LIST_RACE 0
#endif
static int slot_lists_refused;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void hang(void) { pthread_mutex_lock(&lock); pthread_mutex_lock(&lock); }

static int found;

static void pad(CK_UTF8CHAR *field, size_t size, const char *text) {
  memset(field, ' ', size);
  memcpy(field, text, strlen(text));
}

static CK_RV Initialize(CK_VOID_PTR args) { (void)args; HANG_IF("C_Initialize"); return CKR_OK; }
static CK_RV Finalize(CK_VOID_PTR reserved) { (void)reserved; HANG_IF("C_Finalize"); return CKR_OK; }

static CK_RV GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
  (void)present;
  HANG_IF("C_GetSlotList");
  if (list != NULL) {
    if (*count < 1) return CKR_BUFFER_TOO_SMALL;
    if (slot_lists_refused < SLOT_LIST_RACE) {
      slot_lists_refused++;
      *count = 2; /* a card appeared in another reader since the count */
      return CKR_BUFFER_TOO_SMALL;
    }
    list[0] = SLOT;
  }
  *count = 1;
  return CKR_OK;
}

static CK_RV GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) {
  if (slot != SLOT) return CKR_SLOT_ID_INVALID;
  memset(info, 0, sizeof *info);
  pad(info->slotDescription, sizeof info->slotDescription, "${STUB_SLOT_DESCRIPTION}");
  pad(info->manufacturerID, sizeof info->manufacturerID, "stub");
  info->flags = CKF_TOKEN_PRESENT | CKF_HW_SLOT;
  return CKR_OK;
}

static CK_RV GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
  if (slot != SLOT) return CKR_SLOT_ID_INVALID;
  memset(info, 0, sizeof *info);
  pad(info->label, sizeof info->label, "stub token");
  pad(info->manufacturerID, sizeof info->manufacturerID, "stub");
  pad(info->model, sizeof info->model, "stub");
  memcpy(info->serialNumber, "12345678        ", 16);
  info->flags = CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED;
  info->firmwareVersion.major = 5;
  info->firmwareVersion.minor = 72;
  return CKR_OK;
}

static CK_RV OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify, CK_SESSION_HANDLE_PTR session) {
  (void)flags; (void)app; (void)notify;
  HANG_IF("C_OpenSession");
  if (slot != SLOT) return CKR_SLOT_ID_INVALID;
  *session = SESSION;
  return CKR_OK;
}

static CK_RV CloseSession(CK_SESSION_HANDLE session) { return session == SESSION ? CKR_OK : CKR_SESSION_HANDLE_INVALID; }

static CK_RV Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG length) {
  (void)user;
  HANG_IF("C_Login");
  if (session != SESSION) return CKR_SESSION_HANDLE_INVALID;
  return length == strlen("${STUB_PIN}") && memcmp(pin, "${STUB_PIN}", length) == 0 ? CKR_OK : CKR_PIN_INCORRECT;
}

static CK_RV Logout(CK_SESSION_HANDLE session) { return session == SESSION ? CKR_OK : CKR_SESSION_HANDLE_INVALID; }

static CK_RV FindObjectsInit(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR template, CK_ULONG count) {
  (void)template; (void)count;
  if (session != SESSION) return CKR_SESSION_HANDLE_INVALID;
  found = 0;
  return CKR_OK;
}

static CK_RV FindObjects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max, CK_ULONG_PTR count) {
  if (session != SESSION) return CKR_SESSION_HANDLE_INVALID;
  *count = 0;
  if (!found && max > 0) { objects[0] = OBJECT; *count = 1; found = 1; }
  return CKR_OK;
}

static CK_RV FindObjectsFinal(CK_SESSION_HANDLE session) { return session == SESSION ? CKR_OK : CKR_SESSION_HANDLE_INVALID; }

static CK_RV GetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR template, CK_ULONG count) {
  if (session != SESSION) return CKR_SESSION_HANDLE_INVALID;
  if (object != OBJECT) return CKR_OBJECT_HANDLE_INVALID;
  CK_RV rv = CKR_OK;
  for (CK_ULONG i = 0; i < count; i++) {
    if (template[i].type != CKA_VALUE) { template[i].ulValueLen = CK_UNAVAILABLE_INFORMATION; rv = CKR_ATTRIBUTE_TYPE_INVALID; continue; }
    if (template[i].pValue != NULL) {
      if (template[i].ulValueLen < 256) return CKR_BUFFER_TOO_SMALL;
      for (int b = 0; b < 256; b++) ((CK_BYTE_PTR)template[i].pValue)[b] = (CK_BYTE)b;
    }
    template[i].ulValueLen = 256;
  }
  return rv;
}

static CK_RV SignInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  (void)mechanism;
  if (session != SESSION) return CKR_SESSION_HANDLE_INVALID;
  return key == OBJECT ? CKR_OK : CKR_KEY_HANDLE_INVALID;
}

static CK_RV Sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG length, CK_BYTE_PTR signature, CK_ULONG_PTR signatureLength) {
  HANG_IF("C_Sign");
  if (session != SESSION) return CKR_SESSION_HANDLE_INVALID;
  if (signature != NULL) {
    if (*signatureLength < length) return CKR_BUFFER_TOO_SMALL;
    for (CK_ULONG i = 0; i < length; i++) signature[i] = data[length - 1 - i];
  }
  *signatureLength = length;
  return CKR_OK;
}

static CK_FUNCTION_LIST functions = {
  .version = { 2, 40 },
  .C_Initialize = Initialize,
  .C_Finalize = Finalize,
  .C_GetSlotList = GetSlotList,
  .C_GetSlotInfo = GetSlotInfo,
  .C_GetTokenInfo = GetTokenInfo,
  .C_OpenSession = OpenSession,
  .C_CloseSession = CloseSession,
  .C_Login = Login,
  .C_Logout = Logout,
  .C_FindObjectsInit = FindObjectsInit,
  .C_FindObjects = FindObjects,
  .C_FindObjectsFinal = FindObjectsFinal,
  .C_GetAttributeValue = GetAttributeValue,
  .C_SignInit = SignInit,
  .C_Sign = Sign,
};

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  *list = &functions;
  return CKR_OK;
}
`;

const HEADERS = new URL('../../node_modules/pkcs11js/includes/pkcs11/', import.meta.url).pathname;

/** The compiler, or undefined (the tests that need one skip). */
export function cCompiler(): string | undefined {
  for (const compiler of ['cc', 'gcc', 'clang']) {
    try {
      execFileSync(compiler, ['--version'], { stdio: 'ignore' });
      return compiler;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/**
 * Compiles the stub into a fresh temporary directory; `hang` names the function that never returns, `crash` one that
 * crashes; `slotListRace` is how many slot lists are refused as if a card had just been inserted elsewhere.
 */
export function buildStubModule(compiler: string, hang?: string, crash?: string, slotListRace = 0): string {
  if (!existsSync(join(HEADERS, 'pkcs11.h'))) throw new Error(`pkcs11js's PKCS#11 headers are not in ${HEADERS}`);
  const dir = mkdtempSync(join(tmpdir(), 'stub-pkcs11-'));
  const source = join(dir, 'stub.c');
  writeFileSync(source, SOURCE);
  const library = join(dir, `stub-${hang ?? crash ?? (slotListRace > 0 ? `race${slotListRace}` : 'ok')}.so`);
  const behaviour = [...(hang ? [`-DHANG="${hang}"`] : []), ...(crash ? [`-DCRASH="${crash}"`] : []), ...(slotListRace > 0 ? [`-DSLOT_LIST_RACE=${slotListRace}`] : [])];
  execFileSync(compiler, ['-shared', '-fPIC', '-O0', '-Wall', '-Werror', '-I', HEADERS, ...behaviour, '-o', library, source, '-lpthread']);
  return library;
}
