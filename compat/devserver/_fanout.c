/* Forwarded audio, one call per received datagram: SRTP-unprotect the publisher's packet, then
 * rewrite, SRTP-protect and send one copy per subscriber, without Python work per copy.
 *
 * What compat/devserver/aiortc_internals.py's RtpWriter does in Python, moved below it (the dev
 * server's audio fan-out cost ~30 us of Python per copy). libsrtp is not linked here: the
 * srtp_protect / srtp_unprotect functions and the sessions are pylibsrtp's own, handed in as
 * addresses by compat/devserver/fanout.py (the one module that knows pylibsrtp's internals), so
 * every packet goes through the same library and session state that aiortc uses.
 *
 * All calls run on the event loop's thread with the GIL held; nothing here blocks (sends use
 * MSG_DONTWAIT: a full socket buffer costs that copy, as a UDP send would).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef int (*srtp_fn)(void *ctx, void *packet, int *length);

#define MAX_PACKET 1500      /* pylibsrtp's own buffer: longer packets are refused there too */
#define MAX_TRAILER 144      /* SRTP_MAX_TRAILER_LEN: tag and MKI */
#define MAX_EXTENSION 20     /* the mid element we write: 4-byte header, id/len byte, mid <= 15 bytes */
#define RTP_HEADER 12

typedef struct {
    long long key;
    PyObject *session_owner;  /* keeps the pylibsrtp Session (and so its srtp_t) alive */
    void *session;
    int fd;                   /* our dup() of the subscriber's socket: never someone else's fd */
    struct sockaddr_storage address;
    socklen_t address_length;
    uint32_t ssrc;
    uint8_t first_byte;
    uint8_t payload_type;
    uint16_t seq_offset;
    uint32_t ts_offset;
    uint8_t extension[MAX_EXTENSION];
    int extension_length;
    unsigned long long packets, octets, failures;
    int last_errno;
} Target;

typedef struct {
    PyObject_HEAD
    srtp_fn unprotect;
    srtp_fn protect;
    int level_id;             /* the RFC 6464 audio level extension's id, 0 for none */
    Target *targets;
    Py_ssize_t count, capacity;
    uint32_t in[(MAX_PACKET + 3) / 4];
    uint32_t out[(MAX_PACKET + MAX_EXTENSION + MAX_TRAILER + 3) / 4];
} Fanout;

static void release(Target *target) {
    if (target->fd >= 0)
        close(target->fd);
    target->fd = -1;
    Py_CLEAR(target->session_owner);
}

static Target *find(Fanout *self, long long key) {
    for (Py_ssize_t i = 0; i < self->count; i++)
        if (self->targets[i].key == key)
            return &self->targets[i];
    return NULL;
}

static int Fanout_init(Fanout *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"unprotect", "protect", "level_id", NULL};
    unsigned long long unprotect, protect;
    int level_id;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "KKi", names, &unprotect, &protect, &level_id))
        return -1;
    if (!unprotect || !protect) {
        PyErr_SetString(PyExc_ValueError, "the SRTP functions' addresses are required");
        return -1;
    }
    if (level_id < 0 || level_id > 255) {
        PyErr_SetString(PyExc_ValueError, "level_id must be 0 (none) or a header extension id");
        return -1;
    }
    self->unprotect = (srtp_fn)(uintptr_t)unprotect;
    self->protect = (srtp_fn)(uintptr_t)protect;
    self->level_id = level_id;
    return 0;
}

static void Fanout_dealloc(Fanout *self) {
    for (Py_ssize_t i = 0; i < self->count; i++)
        release(&self->targets[i]);
    PyMem_Free(self->targets);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* One copy to one subscriber: its header, its extension, the publisher's payload. */
static void send_copy(Fanout *self, Target *t, int marker, uint16_t seq, uint32_t ts,
                      const uint8_t *payload, int payload_length) {
    uint8_t *out = (uint8_t *)self->out;
    uint16_t out_seq = (uint16_t)(seq + t->seq_offset);
    uint32_t out_ts = ts + t->ts_offset;
    out[0] = t->first_byte;
    out[1] = (uint8_t)((marker ? 0x80 : 0) | t->payload_type);
    out[2] = (uint8_t)(out_seq >> 8);
    out[3] = (uint8_t)out_seq;
    out[4] = (uint8_t)(out_ts >> 24);
    out[5] = (uint8_t)(out_ts >> 16);
    out[6] = (uint8_t)(out_ts >> 8);
    out[7] = (uint8_t)out_ts;
    out[8] = (uint8_t)(t->ssrc >> 24);
    out[9] = (uint8_t)(t->ssrc >> 16);
    out[10] = (uint8_t)(t->ssrc >> 8);
    out[11] = (uint8_t)t->ssrc;
    memcpy(out + RTP_HEADER, t->extension, (size_t)t->extension_length);
    int length = RTP_HEADER + t->extension_length;
    memcpy(out + length, payload, (size_t)payload_length);
    length += payload_length;
    if (self->protect(t->session, out, &length) != 0) {
        t->failures++;
        t->last_errno = 0;
        return;
    }
    if (sendto(t->fd, out, (size_t)length, MSG_DONTWAIT, (struct sockaddr *)&t->address, t->address_length) < 0) {
        t->failures++;
        t->last_errno = errno;
        return;
    }
    t->packets++;
    t->octets += (unsigned long long)payload_length;
}

static void send_all(Fanout *self, int marker, uint16_t seq, uint32_t ts, const uint8_t *payload, int length) {
    for (Py_ssize_t i = 0; i < self->count; i++)
        send_copy(self, &self->targets[i], marker, seq, ts, payload, length);
}

/* RFC 6464 level from a header extension block (RFC 8285 one- or two-byte form), -1 if absent. */
static int audio_level(int level_id, uint16_t profile, const uint8_t *p, int length) {
    int i = 0;
    if (level_id == 0)
        return -1;
    if (profile == 0xBEDE) {
        while (i < length) {
            int id = p[i] >> 4, size = (p[i] & 0x0F) + 1;
            if (id == 0) { i++; continue; }   /* padding */
            if (id == 15 || i + 1 + size > length) return -1;
            if (id == level_id) return p[i + 1] & 0x7F;
            i += 1 + size;
        }
    } else if ((profile >> 4) == 0x100) {
        while (i + 1 < length) {
            int id = p[i], size = p[i + 1];
            if (id == 0) { i++; continue; }
            if (i + 2 + size > length) return -1;
            if (id == level_id && size >= 1) return p[i + 2] & 0x7F;
            i += 2 + size;
        }
    }
    return -1;
}

static PyObject *Fanout_receive(Fanout *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer data;
    unsigned long long session;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "receive(data, session) takes 2 arguments");
        return NULL;
    }
    session = PyLong_AsUnsignedLongLong(args[1]);
    if (session == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0)
        return NULL;
    if (data.len > MAX_PACKET) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "packet is too long");
        return NULL;
    }
    uint8_t *p = (uint8_t *)self->in;
    int length = (int)data.len;
    memcpy(p, data.buf, (size_t)length);
    PyBuffer_Release(&data);
    if (self->unprotect((void *)(uintptr_t)session, p, &length) != 0)
        Py_RETURN_NONE;  /* does not authenticate: dropped, as aiortc drops it */

    /* The RTP header, as aiortc's RtpPacket.parse reads it (RFC 3550 5.1). */
    if (length < RTP_HEADER || (p[0] >> 6) != 2)
        Py_RETURN_NONE;
    int padding = p[0] & 0x20, extension = p[0] & 0x10, csrcs = p[0] & 0x0F;
    int marker = p[1] >> 7;
    uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
    uint32_t ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    int position = RTP_HEADER + 4 * csrcs, level = -1;
    if (position > length)
        Py_RETURN_NONE;
    if (extension) {
        if (position + 4 > length)
            Py_RETURN_NONE;
        uint16_t profile = (uint16_t)(p[position] << 8 | p[position + 1]);
        int words = p[position + 2] << 8 | p[position + 3];
        position += 4;
        if (position + 4 * words > length)
            Py_RETURN_NONE;
        level = audio_level(self->level_id, profile, p + position, 4 * words);
        position += 4 * words;
    }
    int end = length;
    if (padding) {
        if (end <= position)
            Py_RETURN_NONE;
        int padding_length = p[end - 1];
        if (padding_length == 0 || position + padding_length > end)
            Py_RETURN_NONE;
        end -= padding_length;
    }
    send_all(self, marker, seq, ts, p + position, end - position);
    return Py_BuildValue("(HIi)", seq, ts, level);
}

static PyObject *Fanout_forward(Fanout *self, PyObject *args) {
    int marker;
    unsigned int seq;
    unsigned long ts;
    Py_buffer payload;
    if (!PyArg_ParseTuple(args, "pIky*", &marker, &seq, &ts, &payload))
        return NULL;
    if (payload.len > MAX_PACKET - RTP_HEADER) {
        PyBuffer_Release(&payload);
        PyErr_SetString(PyExc_ValueError, "payload is too long");
        return NULL;
    }
    send_all(self, marker, (uint16_t)seq, (uint32_t)ts, payload.buf, (int)payload.len);
    PyBuffer_Release(&payload);
    Py_RETURN_NONE;
}

static PyObject *Fanout_add(Fanout *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"key", "session_owner", "session", "fd", "host", "port", "ssrc", "payload_type",
                            "extension", "seq_offset", "ts_offset", NULL};
    long long key;
    PyObject *owner;
    unsigned long long session;
    int fd, port, payload_type;
    const char *host;
    unsigned long ssrc, ts_offset;
    unsigned int seq_offset;
    Py_buffer extension;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "LOKisikiy*Ik", names, &key, &owner, &session, &fd, &host,
                                     &port, &ssrc, &payload_type, &extension, &seq_offset, &ts_offset))
        return NULL;
    Target target;
    memset(&target, 0, sizeof target);
    target.fd = -1;
    if (extension.len > MAX_EXTENSION || extension.len % 4 || payload_type < 0 || payload_type > 127 || !session ||
        port <= 0 || port > 65535) {
        PyBuffer_Release(&extension);
        PyErr_SetString(PyExc_ValueError, "invalid target (extension, payload type, session or port)");
        return NULL;
    }
    memcpy(target.extension, extension.buf, (size_t)extension.len);
    target.extension_length = (int)extension.len;
    PyBuffer_Release(&extension);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&target.address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&target.address;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        target.address_length = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        target.address_length = sizeof *v6;
    } else {
        PyErr_Format(PyExc_ValueError, "not an IP address: %s", host);
        return NULL;
    }
    target.key = key;
    target.session = (void *)(uintptr_t)session;
    target.ssrc = (uint32_t)ssrc;
    target.payload_type = (uint8_t)payload_type;
    target.first_byte = target.extension_length ? 0x90 : 0x80;
    target.seq_offset = (uint16_t)seq_offset;
    target.ts_offset = (uint32_t)ts_offset;
    target.fd = dup(fd);
    if (target.fd < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_INCREF(owner);
    target.session_owner = owner;

    Target *existing = find(self, key);
    if (existing != NULL) {
        /* Same subscriber, new transport details: its counters go on. */
        target.packets = existing->packets;
        target.octets = existing->octets;
        target.failures = existing->failures;
        target.last_errno = existing->last_errno;
        release(existing);
        *existing = target;
        Py_RETURN_NONE;
    }
    if (self->count == self->capacity) {
        Py_ssize_t capacity = self->capacity ? 2 * self->capacity : 8;
        Target *grown = PyMem_Realloc(self->targets, (size_t)capacity * sizeof(Target));
        if (grown == NULL) {
            release(&target);
            return PyErr_NoMemory();
        }
        self->targets = grown;
        self->capacity = capacity;
    }
    self->targets[self->count++] = target;
    Py_RETURN_NONE;
}

static PyObject *Fanout_discard(Fanout *self, PyObject *arg) {
    long long key = PyLong_AsLongLong(arg);
    if (key == -1 && PyErr_Occurred())
        return NULL;
    Target *target = find(self, key);
    if (target != NULL) {
        release(target);
        *target = self->targets[--self->count];
    }
    Py_RETURN_NONE;
}

static PyObject *Fanout_counters(Fanout *self, PyObject *arg) {
    long long key = PyLong_AsLongLong(arg);
    if (key == -1 && PyErr_Occurred())
        return NULL;
    Target *t = find(self, key);
    if (t == NULL)
        Py_RETURN_NONE;
    return Py_BuildValue("(KKKi)", t->packets, t->octets, t->failures, t->last_errno);
}

static PyObject *Fanout_len(Fanout *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromSsize_t(self->count);
}

static PyMethodDef Fanout_methods[] = {
    {"receive", (PyCFunction)(void (*)(void))Fanout_receive, METH_FASTCALL,
     "receive(data, session) -> (sequence_number, timestamp, level) | None: unprotect the publisher's SRTP "
     "datagram with the session at that address and send a copy to every target; None when it does not "
     "authenticate or parse (dropped); level is the RFC 6464 level (0 loud .. 127 silent) or -1."},
    {"forward", (PyCFunction)Fanout_forward, METH_VARARGS,
     "forward(marker, sequence_number, timestamp, payload): send an already unprotected packet to every target."},
    {"add", (PyCFunction)(void (*)(void))Fanout_add, METH_VARARGS | METH_KEYWORDS,
     "add(key, session_owner, session, fd, host, port, ssrc, payload_type, extension, seq_offset, ts_offset): "
     "send to this subscriber too (replacing the key's transport details, keeping its counters)."},
    {"discard", (PyCFunction)Fanout_discard, METH_O, "discard(key): stop sending to that subscriber."},
    {"counters", (PyCFunction)Fanout_counters, METH_O,
     "counters(key) -> (packets, octets, failures, last_errno) | None"},
    {"targets", (PyCFunction)Fanout_len, METH_NOARGS, "targets() -> how many subscribers get copies"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject FanoutType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "compat.devserver._fanout.Fanout",
    .tp_doc = PyDoc_STR("One forwarded audio track: its subscribers' SRTP copies, sent natively."),
    .tp_basicsize = sizeof(Fanout),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Fanout_init,
    .tp_dealloc = (destructor)Fanout_dealloc,
    .tp_methods = Fanout_methods,
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_fanout",
    .m_doc = "Forwarded audio fan-out below Python (see compat/devserver/fanout.py).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__fanout(void) {
    if (PyType_Ready(&FanoutType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&FanoutType);
    if (PyModule_AddObject(m, "Fanout", (PyObject *)&FanoutType) < 0) {
        Py_DECREF(&FanoutType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
