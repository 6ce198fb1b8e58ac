/* The cryptography behind OMEMO, all from OpenSSL: the provider callbacks
 * libomemo-c needs (random, HMAC-SHA-256, SHA-512, AES-CTR/CBC) and the
 * AES-GCM payload cipher of OMEMO 0.3. */
#ifndef XU_OMEMO_CRYPTO_H
#define XU_OMEMO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <signal_protocol.h>

/* Give ctx the OpenSSL provider. 0, or a libomemo-c error code. */
int xu_omemo_crypto_install(signal_context *ctx);

/* len random bytes; 0 or -1. */
int xu_omemo_random(uint8_t *buf, size_t len);

#define XU_OMEMO_GCM_TAG 16

/* AES-GCM (key of 16 or 32 bytes, iv of iv_len bytes): out gets in_len
 * bytes of ciphertext, tag the 16-byte tag. 0 or -1. */
int xu_omemo_gcm_encrypt(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                         const uint8_t *in, size_t in_len, uint8_t *out, uint8_t *tag);

/* The inverse; -1 when the tag does not match (out is then wiped). */
int xu_omemo_gcm_decrypt(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                         const uint8_t *in, size_t in_len, const uint8_t *tag, uint8_t *out);

#endif
