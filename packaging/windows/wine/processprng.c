/* For tests under Wine only, never shipped: Wine 8 (Debian 12) lacks ProcessPrng in
 * bcryptprimitives.dll, which Rust's standard library imports on Windows; Windows 10 and 11
 * have it. This stand-in fills the buffer with RtlGenRandom (advapi32's SystemFunction036). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
