/* Forwarded audio, one call per received datagram: SRTP-unprotect the publisher's packet, then
 * rewrite, SRTP-protect and send one copy per subscriber, without Python work per copy.
 *
 * What compat/devserver/aiortc_internals.py's RtpWriter does in Python, moved below it (the dev
 * server's audio fan-out cost ~30 us of Python per copy). libsrtp is not linked here: the
 * srtp_protect / srtp_unprotect functions and the sessions are pylibsrtp's own, handed in as
 * addresses by compat/devserver/fanout.py (the one module that knows pylibsrtp's internals), so
 * every packet goes through the same library and session state that aiortc uses.
 *
 * A Pump reads one publisher's socket on its own thread (no GIL, no event loop wake-up per
 * datagram): the RTP of routed audio SSRCs is unprotected and fanned out there, and everything else
 * (STUN, DTLS, RTCP, video) is queued for the event loop, which a pipe wakes. Because that thread
 * and the event loop share SRTP sessions and fan-out tables, each session has a lock (a Guard, which
 * compat/devserver/fanout.py also routes Python's own uses of the session through) and each table
 * too; a lock is held for one protect, or one table's traversal, never across the GIL.
 * The thread never touches a Python object; nothing here blocks on the network (sends use
 * MSG_DONTWAIT: a full socket buffer costs that copy, as a UDP send would).
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE  /* pthread_setname_np */
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Called with the GIL held. The pump threads never wait for the GIL, so waiting with it held could
 * not deadlock; it is released anyway, so that other Python threads run meanwhile. */
static void lock_with_gil(pthread_mutex_t *mutex) {
    if (pthread_mutex_trylock(mutex) == 0)
        return;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(mutex);
    Py_END_ALLOW_THREADS
}

typedef int (*srtp_fn)(void *ctx, void *packet, int *length);

/* ---- Guard: one SRTP session and its lock -------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    pthread_mutex_t mutex;
    void *session;     /* the srtp_t */
    PyObject *owner;   /* the pylibsrtp Session that owns it: kept alive */
} Guard;

static PyObject *Guard_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    Guard *self = (Guard *)PyType_GenericNew(type, args, kwargs);
    if (self != NULL)
        pthread_mutex_init(&self->mutex, NULL);
    return (PyObject *)self;
}

static int Guard_init(Guard *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"owner", "session", NULL};
    PyObject *owner;
    unsigned long long session;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OK", names, &owner, &session))
        return -1;
    if (!session || self->owner != NULL) {
        PyErr_SetString(PyExc_ValueError, "a Guard takes a session's address, once");
        return -1;
    }
    Py_INCREF(owner);
    self->owner = owner;
    self->session = (void *)(uintptr_t)session;
    return 0;
}

static void Guard_dealloc(Guard *self) {
    pthread_mutex_destroy(&self->mutex);
    Py_CLEAR(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

#define MAX_PACKET 1500      /* pylibsrtp's own buffer: longer packets are refused there too */
#define MAX_TRAILER 144      /* SRTP_MAX_TRAILER_LEN: tag and MKI */
#define MAX_EXTENSION 20     /* the mid element we write: 4-byte header, id/len byte, mid <= 15 bytes */
#define RTP_HEADER 12

/* call(function, data, trailer) -> bytes | int: what pylibsrtp's Session.__process does (same checks,
 * same 1500-byte buffer) with libsrtp's function at that address, under the session's lock; an int
 * is libsrtp's error status. */
static PyObject *Guard_call(Guard *self, PyObject *args) {
    unsigned long long function;
    PyObject *data;
    int trailer;
    uint32_t buffer[MAX_PACKET / 4];
    if (!PyArg_ParseTuple(args, "KOi", &function, &data, &trailer))
        return NULL;
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "packet must be bytes");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    if (trailer < 0 || size > MAX_PACKET - trailer) {
        PyErr_SetString(PyExc_ValueError, "packet is too long");
        return NULL;
    }
    if (self->session == NULL) {
        PyErr_SetString(PyExc_ValueError, "an uninitialised Guard");
        return NULL;
    }
    int length = (int)size;
    memcpy(buffer, PyBytes_AS_STRING(data), (size_t)length);
    lock_with_gil(&self->mutex);
    int status = ((srtp_fn)(uintptr_t)function)(self->session, buffer, &length);
    pthread_mutex_unlock(&self->mutex);
    if (status != 0)
        return PyLong_FromLong(status);
    return PyBytes_FromStringAndSize((const char *)buffer, length);
}

static PyMethodDef Guard_methods[] = {
    {"call", (PyCFunction)Guard_call, METH_VARARGS,
     "call(function, data, trailer) -> bytes | int: libsrtp's protect/unprotect function at that address on this "
     "session, under its lock; an int is libsrtp's error status."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GuardType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "compat.devserver._fanout.Guard",
    .tp_doc = PyDoc_STR("Guard(owner, session): an SRTP session (srtp_t at that address) and the lock every user takes."),
    .tp_basicsize = sizeof(Guard),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Guard_new,
    .tp_init = (initproc)Guard_init,
    .tp_dealloc = (destructor)Guard_dealloc,
    .tp_methods = Guard_methods,
};

/* ---- Fanout: one forwarded audio track's subscribers --------------------------------------------- */

typedef struct {
    long long key;
    Guard *guard;             /* the subscriber's outgoing SRTP session (strong reference) */
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
    pthread_mutex_t mutex;    /* the targets and the buffers */
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
    Py_CLEAR(target->guard);
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

static PyObject *Fanout_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    Fanout *self = (Fanout *)PyType_GenericNew(type, args, kwargs);
    if (self != NULL)
        pthread_mutex_init(&self->mutex, NULL);
    return (PyObject *)self;
}

static void Fanout_dealloc(Fanout *self) {
    pthread_mutex_destroy(&self->mutex);
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
    pthread_mutex_lock(&t->guard->mutex);
    int status = self->protect(t->guard->session, out, &length);
    pthread_mutex_unlock(&t->guard->mutex);
    if (status != 0) {
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

typedef struct {
    int ok;
    uint16_t seq;
    uint32_t ts;
    int level;
} Received;

/* With the fan-out's lock held: unprotect the publisher's datagram in place (``p`` has room for
 * MAX_PACKET bytes), read its header as aiortc's RtpPacket.parse does (RFC 3550 5.1) and send
 * every target its copy. Not ok when it does not authenticate or parse (dropped, as aiortc drops it). */
static Received fanout_packet(Fanout *self, Guard *rx, uint8_t *p, int length) {
    Received none = {0, 0, 0, -1};
    pthread_mutex_lock(&rx->mutex);
    int status = self->unprotect(rx->session, p, &length);
    pthread_mutex_unlock(&rx->mutex);
    if (status != 0)
        return none;
    if (length < RTP_HEADER || (p[0] >> 6) != 2)
        return none;
    int padding = p[0] & 0x20, extension = p[0] & 0x10, csrcs = p[0] & 0x0F;
    int marker = p[1] >> 7;
    uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
    uint32_t ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    int position = RTP_HEADER + 4 * csrcs, level = -1;
    if (position > length)
        return none;
    if (extension) {
        if (position + 4 > length)
            return none;
        uint16_t profile = (uint16_t)(p[position] << 8 | p[position + 1]);
        int words = p[position + 2] << 8 | p[position + 3];
        position += 4;
        if (position + 4 * words > length)
            return none;
        level = audio_level(self->level_id, profile, p + position, 4 * words);
        position += 4 * words;
    }
    int end = length;
    if (padding) {
        if (end <= position)
            return none;
        int padding_length = p[end - 1];
        if (padding_length == 0 || position + padding_length > end)
            return none;
        end -= padding_length;
    }
    send_all(self, marker, seq, ts, p + position, end - position);
    Received got = {1, seq, ts, level};
    return got;
}

static PyObject *Fanout_receive(Fanout *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer data;
    if (nargs != 2 || !PyObject_TypeCheck(args[1], &GuardType)) {
        PyErr_SetString(PyExc_TypeError, "receive(data, guard) takes the datagram and the session's Guard");
        return NULL;
    }
    Guard *rx = (Guard *)args[1];
    Received got;
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0)
        return NULL;
    if (data.len > MAX_PACKET) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "packet is too long");
        return NULL;
    }
    int length = (int)data.len;
    lock_with_gil(&self->mutex);
    memcpy(self->in, data.buf, (size_t)length);
    PyBuffer_Release(&data);
    Py_BEGIN_ALLOW_THREADS  /* the session locks are taken inside: never with the GIL held */
    got = fanout_packet(self, rx, (uint8_t *)self->in, length);
    Py_END_ALLOW_THREADS
    pthread_mutex_unlock(&self->mutex);
    if (!got.ok)
        Py_RETURN_NONE;
    return Py_BuildValue("(HIi)", got.seq, got.ts, got.level);
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
    lock_with_gil(&self->mutex);
    Py_BEGIN_ALLOW_THREADS
    send_all(self, marker, (uint16_t)seq, (uint32_t)ts, payload.buf, (int)payload.len);
    Py_END_ALLOW_THREADS
    pthread_mutex_unlock(&self->mutex);
    PyBuffer_Release(&payload);
    Py_RETURN_NONE;
}

static PyObject *Fanout_add(Fanout *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"key", "guard", "fd", "host", "port", "ssrc", "payload_type", "extension", "seq_offset",
                            "ts_offset", NULL};
    long long key;
    PyObject *guard;
    int fd, port, payload_type;
    const char *host;
    unsigned long ssrc, ts_offset;
    unsigned int seq_offset;
    Py_buffer extension;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "LO!isikiy*Ik", names, &key, &GuardType, &guard, &fd, &host,
                                     &port, &ssrc, &payload_type, &extension, &seq_offset, &ts_offset))
        return NULL;
    Target target;
    memset(&target, 0, sizeof target);
    target.fd = -1;
    if (extension.len > MAX_EXTENSION || extension.len % 4 || payload_type < 0 || payload_type > 127 ||
        port <= 0 || port > 65535) {
        PyBuffer_Release(&extension);
        PyErr_SetString(PyExc_ValueError, "invalid target (extension, payload type or port)");
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
    target.ssrc = (uint32_t)ssrc;
    target.payload_type = (uint8_t)payload_type;
    target.first_byte = target.extension_length ? 0x90 : 0x80;
    target.seq_offset = (uint16_t)seq_offset;
    target.ts_offset = (uint32_t)ts_offset;
    target.fd = dup(fd);
    if (target.fd < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_INCREF(guard);
    target.guard = (Guard *)guard;

    lock_with_gil(&self->mutex);
    Target *existing = find(self, key);
    if (existing != NULL) {
        /* Same subscriber, new transport details: its counters go on. */
        target.packets = existing->packets;
        target.octets = existing->octets;
        target.failures = existing->failures;
        target.last_errno = existing->last_errno;
        Target old = *existing;
        *existing = target;
        pthread_mutex_unlock(&self->mutex);
        release(&old);
        Py_RETURN_NONE;
    }
    if (self->count == self->capacity) {
        Py_ssize_t capacity = self->capacity ? 2 * self->capacity : 8;
        Target *grown = PyMem_Realloc(self->targets, (size_t)capacity * sizeof(Target));
        if (grown == NULL) {
            pthread_mutex_unlock(&self->mutex);
            release(&target);
            return PyErr_NoMemory();
        }
        self->targets = grown;
        self->capacity = capacity;
    }
    self->targets[self->count++] = target;
    pthread_mutex_unlock(&self->mutex);
    Py_RETURN_NONE;
}

static PyObject *Fanout_discard(Fanout *self, PyObject *arg) {
    long long key = PyLong_AsLongLong(arg);
    if (key == -1 && PyErr_Occurred())
        return NULL;
    lock_with_gil(&self->mutex);
    Target *target = find(self, key);
    if (target == NULL) {
        pthread_mutex_unlock(&self->mutex);
        Py_RETURN_NONE;
    }
    Target old = *target;
    *target = self->targets[--self->count];
    pthread_mutex_unlock(&self->mutex);
    release(&old);
    Py_RETURN_NONE;
}

static PyObject *Fanout_counters(Fanout *self, PyObject *arg) {
    long long key = PyLong_AsLongLong(arg);
    if (key == -1 && PyErr_Occurred())
        return NULL;
    lock_with_gil(&self->mutex);
    Target *t = find(self, key);
    if (t == NULL) {
        pthread_mutex_unlock(&self->mutex);
        Py_RETURN_NONE;
    }
    Target copy = *t;
    pthread_mutex_unlock(&self->mutex);
    return Py_BuildValue("(KKKi)", copy.packets, copy.octets, copy.failures, copy.last_errno);
}

static PyObject *Fanout_len(Fanout *self, PyObject *Py_UNUSED(ignored)) {
    lock_with_gil(&self->mutex);
    Py_ssize_t count = self->count;
    pthread_mutex_unlock(&self->mutex);
    return PyLong_FromSsize_t(count);
}

static PyMethodDef Fanout_methods[] = {
    {"receive", (PyCFunction)(void (*)(void))Fanout_receive, METH_FASTCALL,
     "receive(data, guard) -> (sequence_number, timestamp, level) | None: unprotect the publisher's SRTP "
     "datagram with the guarded session and send a copy to every target; None when it does not "
     "authenticate or parse (dropped); level is the RFC 6464 level (0 loud .. 127 silent) or -1."},
    {"forward", (PyCFunction)Fanout_forward, METH_VARARGS,
     "forward(marker, sequence_number, timestamp, payload): send an already unprotected packet to every target."},
    {"add", (PyCFunction)(void (*)(void))Fanout_add, METH_VARARGS | METH_KEYWORDS,
     "add(key, guard, fd, host, port, ssrc, payload_type, extension, seq_offset, ts_offset): "
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
    .tp_new = Fanout_new,
    .tp_init = (initproc)Fanout_init,
    .tp_dealloc = (destructor)Fanout_dealloc,
    .tp_methods = Fanout_methods,
};

/* ---- Pump: one publisher socket read on its own thread ----------------------------------------- */

#define MAX_QUEUED 4096    /* datagrams waiting for the event loop; more are dropped, as a full socket buffer drops */
#define MAX_DATAGRAM 65536
#define NO_LEVEL 128

/* One routed SSRC: its fan-out, and the receiver statistics aiortc's StreamStatistics.add keeps. */
typedef struct {
    uint32_t ssrc;
    Fanout *fanout;  /* strong reference */
    double clockrate;
    long long packets_received, base_seq, max_seq, cycles, jitter_q4, last_arrival, last_timestamp; /* -1: None */
    long long frames;  /* since the last report */
    int min_level;     /* loudest RFC 6464 level since the last report, NO_LEVEL for none */
    uint16_t last_seq;
    uint32_t last_ts;
} Route;

typedef struct Handoff {
    struct Handoff *next;
    struct sockaddr_storage address;
    socklen_t address_length;
    Py_ssize_t length;
    uint8_t data[];
} Handoff;

typedef struct {
    PyObject_HEAD
    int fd;            /* our dup() of the publisher's socket */
    int wake[2];       /* thread -> event loop: datagrams are queued */
    int stop[2];       /* event loop -> thread: stop */
    pthread_t thread;
    int running;
    Guard *guard;      /* the publisher's incoming SRTP session */
    pthread_mutex_t routes_mutex;  /* the routes; taken before a fan-out's */
    pthread_mutex_t queue_mutex;   /* the queue and its counters */
    Route *routes;
    Py_ssize_t count, capacity;
    Handoff *head, *tail;
    Py_ssize_t queued;
    unsigned long long handed_off, dropped;
    uint32_t buffer[MAX_DATAGRAM / 4];  /* the thread's */
} Pump;

static Route *find_route(Pump *self, uint32_t ssrc) {
    for (Py_ssize_t i = 0; i < self->count; i++)
        if (self->routes[i].ssrc == ssrc)
            return &self->routes[i];
    return NULL;
}

static int uint16_gt(long long a, long long b) {
    return (a > b && a - b < 0x8000) || (a < b && b - a > 0x8000);
}

/* aiortc's StreamStatistics.add (rtcrtpreceiver.py), for a packet arriving now. */
static void count_packet(Route *r, uint16_t seq, uint32_t ts) {
    int in_order = r->max_seq < 0 || uint16_gt(seq, r->max_seq);
    r->packets_received++;
    if (r->base_seq < 0)
        r->base_seq = seq;
    if (in_order) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        long long arrival = (long long)(((double)now.tv_sec + (double)now.tv_nsec / 1e9) * r->clockrate);
        if (r->max_seq >= 0 && seq < r->max_seq)
            r->cycles += 1 << 16;
        r->max_seq = seq;
        if ((long long)ts != r->last_timestamp && r->packets_received > 1 && r->last_arrival >= 0 &&
            r->last_timestamp >= 0) {
            long long diff = (arrival - r->last_arrival) - ((long long)ts - r->last_timestamp);
            if (diff < 0)
                diff = -diff;
            r->jitter_q4 += diff - ((r->jitter_q4 + 8) >> 4);
        }
        r->last_arrival = arrival;
        r->last_timestamp = ts;
    }
}

static void hand_off(Pump *self, const uint8_t *p, Py_ssize_t length, struct sockaddr_storage *address,
                     socklen_t address_length) {
    Handoff *h = malloc(sizeof(Handoff) + (size_t)length);
    int wake = 0;
    pthread_mutex_lock(&self->queue_mutex);
    if (h == NULL || self->queued >= MAX_QUEUED) {
        self->dropped++;
        pthread_mutex_unlock(&self->queue_mutex);
        free(h);
        return;
    }
    h->next = NULL;
    h->address = *address;
    h->address_length = address_length;
    h->length = length;
    memcpy(h->data, p, (size_t)length);
    if (self->tail != NULL)
        self->tail->next = h;
    else
        self->head = h;
    self->tail = h;
    wake = self->queued++ == 0;
    self->handed_off++;
    pthread_mutex_unlock(&self->queue_mutex);
    if (wake) {
        char byte = 1;
        if (write(self->wake[1], &byte, 1) < 0) { /* full pipe: the loop is awake already */ }
    }
}

/* One datagram on the thread: a routed SSRC's RTP is fanned out here, the rest goes to the loop. */
static void pump_datagram(Pump *self, Py_ssize_t length, struct sockaddr_storage *address,
                          socklen_t address_length) {
    uint8_t *p = (uint8_t *)self->buffer;
    if (length >= RTP_HEADER && length <= MAX_PACKET && p[0] > 127 && p[0] < 192 && !(p[1] >= 192 && p[1] <= 208)) {
        uint32_t ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
        pthread_mutex_lock(&self->routes_mutex);
        Route *r = find_route(self, ssrc);
        if (r != NULL) {
            pthread_mutex_lock(&r->fanout->mutex);
            Received got = fanout_packet(r->fanout, self->guard, p, (int)length);
            pthread_mutex_unlock(&r->fanout->mutex);
            if (got.ok) {
                count_packet(r, got.seq, got.ts);
                r->frames++;
                r->last_seq = got.seq;
                r->last_ts = got.ts;
                if (got.level >= 0 && got.level < r->min_level)
                    r->min_level = got.level;
            }
            pthread_mutex_unlock(&self->routes_mutex);
            return;
        }
        pthread_mutex_unlock(&self->routes_mutex);
    }
    hand_off(self, p, length, address, address_length);
}

static void *pump_run(void *argument) {
    Pump *self = argument;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "compat-pump");  /* so that top -H and the bench tell it apart */
#endif
    struct pollfd fds[2] = {{self->fd, POLLIN, 0}, {self->stop[0], POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents || (fds[0].revents & POLLNVAL))
            break;
        for (int i = 0; i < 64; i++) {  /* then poll again, so that a stop is seen */
            struct sockaddr_storage address;
            socklen_t address_length = sizeof address;
            ssize_t got = recvfrom(self->fd, self->buffer, sizeof self->buffer, MSG_DONTWAIT,
                                   (struct sockaddr *)&address, &address_length);
            if (got < 0) {
                if (errno == EINTR)
                    continue;
                break;  /* EAGAIN, or an error the socket reported (read, so cleared) */
            }
            pump_datagram(self, got, &address, address_length);
        }
    }
    return NULL;
}

static int nonblocking_pipe(int fds[2]) {
    if (pipe(fds) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        int flags = fcntl(fds[i], F_GETFL);
        if (flags < 0 || fcntl(fds[i], F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
            close(fds[0]);
            close(fds[1]);
            return -1;
        }
    }
    return 0;
}

static void stop_thread(Pump *self) {
    if (!self->running)
        return;
    char byte = 1;
    if (write(self->stop[1], &byte, 1) < 0) { /* the pipe is empty: cannot fail but for EINTR */ }
    Py_BEGIN_ALLOW_THREADS
    pthread_join(self->thread, NULL);
    Py_END_ALLOW_THREADS
    self->running = 0;
}

static PyObject *Pump_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    Pump *self = (Pump *)PyType_GenericNew(type, args, kwargs);
    if (self != NULL) {
        self->fd = self->wake[0] = self->wake[1] = self->stop[0] = self->stop[1] = -1;
        pthread_mutex_init(&self->routes_mutex, NULL);
        pthread_mutex_init(&self->queue_mutex, NULL);
    }
    return (PyObject *)self;
}

static int Pump_init(Pump *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"fd", "guard", NULL};
    int fd;
    PyObject *guard;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "iO!", names, &fd, &GuardType, &guard))
        return -1;
    if (self->running || self->guard != NULL || self->fd >= 0) {
        PyErr_SetString(PyExc_RuntimeError, "a Pump is initialised once");
        return -1;
    }
    Py_INCREF(guard);
    self->guard = (Guard *)guard;
    self->fd = dup(fd);
    if (self->fd < 0 || nonblocking_pipe(self->wake) < 0 || nonblocking_pipe(self->stop) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    int error = pthread_create(&self->thread, NULL, pump_run, self);
    if (error != 0) {
        errno = error;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    self->running = 1;
    return 0;
}

static void free_queue(Handoff *h) {
    while (h != NULL) {
        Handoff *next = h->next;
        free(h);
        h = next;
    }
}

static void Pump_dealloc(Pump *self) {
    stop_thread(self);
    int fds[5] = {self->fd, self->wake[0], self->wake[1], self->stop[0], self->stop[1]};
    for (int i = 0; i < 5; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    for (Py_ssize_t i = 0; i < self->count; i++)
        Py_DECREF(self->routes[i].fanout);
    PyMem_Free(self->routes);
    free_queue(self->head);
    pthread_mutex_destroy(&self->routes_mutex);
    pthread_mutex_destroy(&self->queue_mutex);
    Py_CLEAR(self->guard);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Pump_close(Pump *self, PyObject *Py_UNUSED(ignored)) {
    stop_thread(self);
    if (self->fd >= 0) {
        close(self->fd);
        self->fd = -1;
    }
    Py_RETURN_NONE;
}

static PyObject *route_state(Route *r) {
    return Py_BuildValue("(LLLLLLL)", r->packets_received, r->base_seq, r->max_seq, r->cycles, r->jitter_q4,
                         r->last_arrival, r->last_timestamp);
}

static PyObject *Pump_route(Pump *self, PyObject *args) {
    unsigned long ssrc;
    PyObject *fanout;
    double clockrate;
    Route r;
    memset(&r, 0, sizeof r);
    if (!PyArg_ParseTuple(args, "kO!d(LLLLLLL)", &ssrc, &FanoutType, &fanout, &clockrate, &r.packets_received,
                          &r.base_seq, &r.max_seq, &r.cycles, &r.jitter_q4, &r.last_arrival, &r.last_timestamp))
        return NULL;
    if (clockrate <= 0) {
        PyErr_SetString(PyExc_ValueError, "clockrate must be positive");
        return NULL;
    }
    r.ssrc = (uint32_t)ssrc;
    r.fanout = (Fanout *)fanout;
    r.clockrate = clockrate;
    r.min_level = NO_LEVEL;
    Py_INCREF(fanout);
    lock_with_gil(&self->routes_mutex);
    Route *existing = find_route(self, r.ssrc);
    if (existing != NULL) {
        pthread_mutex_unlock(&self->routes_mutex);
        Py_DECREF(fanout);
        PyErr_Format(PyExc_ValueError, "SSRC %lu is routed already", ssrc);
        return NULL;
    }
    if (self->count == self->capacity) {
        Py_ssize_t capacity = self->capacity ? 2 * self->capacity : 4;
        Route *grown = PyMem_Realloc(self->routes, (size_t)capacity * sizeof(Route));
        if (grown == NULL) {
            pthread_mutex_unlock(&self->routes_mutex);
            Py_DECREF(fanout);
            return PyErr_NoMemory();
        }
        self->routes = grown;
        self->capacity = capacity;
    }
    self->routes[self->count++] = r;
    pthread_mutex_unlock(&self->routes_mutex);
    Py_RETURN_NONE;
}

static PyObject *Pump_unroute(Pump *self, PyObject *arg) {
    unsigned long ssrc = PyLong_AsUnsignedLong(arg);
    if (ssrc == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    lock_with_gil(&self->routes_mutex);
    Route *found = find_route(self, (uint32_t)ssrc);
    if (found == NULL) {
        pthread_mutex_unlock(&self->routes_mutex);
        Py_RETURN_NONE;
    }
    Route r = *found;
    *found = self->routes[--self->count];
    pthread_mutex_unlock(&self->routes_mutex);
    PyObject *state = route_state(&r);
    Py_DECREF(r.fanout);
    return state;
}

static PyObject *Pump_report(Pump *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *reports = PyList_New(0);
    if (reports == NULL)
        return NULL;
    lock_with_gil(&self->routes_mutex);
    Py_ssize_t count = self->count;
    Route *copies = PyMem_Malloc((size_t)(count ? count : 1) * sizeof(Route));
    if (copies == NULL) {
        pthread_mutex_unlock(&self->routes_mutex);
        Py_DECREF(reports);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        copies[i] = self->routes[i];
        self->routes[i].frames = 0;
        self->routes[i].min_level = NO_LEVEL;
    }
    pthread_mutex_unlock(&self->routes_mutex);
    for (Py_ssize_t i = 0; i < count; i++) {
        Route *r = &copies[i];
        if (r->frames == 0)
            continue;
        PyObject *state = route_state(r);
        PyObject *item = state ? Py_BuildValue("(kLiHkN)", (unsigned long)r->ssrc, r->frames,
                                               r->min_level == NO_LEVEL ? -1 : r->min_level, r->last_seq,
                                               (unsigned long)r->last_ts, state) : NULL;
        if (item == NULL || PyList_Append(reports, item) < 0) {
            Py_XDECREF(item);
            PyMem_Free(copies);
            Py_DECREF(reports);
            return NULL;
        }
        Py_DECREF(item);
    }
    PyMem_Free(copies);
    return reports;
}

static PyObject *address_tuple(struct sockaddr_storage *address) {
    char host[INET6_ADDRSTRLEN];
    if (address->ss_family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)address;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        return Py_BuildValue("(si)", host, ntohs(v4->sin_port));
    }
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)address;
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
    return Py_BuildValue("(si)", host, ntohs(v6->sin6_port));
}

static PyObject *Pump_take(Pump *self, PyObject *Py_UNUSED(ignored)) {
    char drain[256];
    while (self->wake[0] >= 0 && read(self->wake[0], drain, sizeof drain) > 0) {
    }
    lock_with_gil(&self->queue_mutex);
    Handoff *h = self->head;
    self->head = self->tail = NULL;
    self->queued = 0;
    pthread_mutex_unlock(&self->queue_mutex);
    PyObject *taken = PyList_New(0);
    for (Handoff *each = h; each != NULL && taken != NULL; each = each->next) {
        PyObject *item = Py_BuildValue("(y#N)", each->data, each->length, address_tuple(&each->address));
        if (item == NULL || PyList_Append(taken, item) < 0)
            Py_CLEAR(taken);
        Py_XDECREF(item);
    }
    free_queue(h);
    return taken;
}

static PyObject *Pump_fileno(Pump *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLong(self->wake[0]);
}

static PyObject *Pump_counters(Pump *self, PyObject *Py_UNUSED(ignored)) {
    lock_with_gil(&self->queue_mutex);
    unsigned long long handed_off = self->handed_off, dropped = self->dropped;
    pthread_mutex_unlock(&self->queue_mutex);
    lock_with_gil(&self->routes_mutex);
    Py_ssize_t routes = self->count;
    pthread_mutex_unlock(&self->routes_mutex);
    return Py_BuildValue("(KKn)", handed_off, dropped, routes);
}

static PyMethodDef Pump_methods[] = {
    {"route", (PyCFunction)Pump_route, METH_VARARGS,
     "route(ssrc, fanout, clockrate, state): fan this SSRC's RTP out on the thread, counting it from the receiver "
     "statistics ``state`` (packets_received, base_seq, max_seq, cycles, jitter_q4, last_arrival, "
     "last_timestamp; -1 for None)."},
    {"unroute", (PyCFunction)Pump_unroute, METH_O,
     "unroute(ssrc) -> state | None: hand this SSRC's RTP to the event loop again; its statistics so far."},
    {"report", (PyCFunction)Pump_report, METH_NOARGS,
     "report() -> [(ssrc, packets, loudest level or -1, last sequence number, last timestamp, state)] for the "
     "routes that received packets since the last report."},
    {"take", (PyCFunction)Pump_take, METH_NOARGS,
     "take() -> [(data, (host, port))]: the datagrams queued for the event loop, in arrival order."},
    {"fileno", (PyCFunction)Pump_fileno, METH_NOARGS, "fileno() -> the pipe readable when datagrams are queued"},
    {"counters", (PyCFunction)Pump_counters, METH_NOARGS,
     "counters() -> (handed off, dropped because the queue was full, routes)"},
    {"close", (PyCFunction)Pump_close, METH_NOARGS,
     "close(): stop the thread and close its socket; what it queued can still be taken."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PumpType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "compat.devserver._fanout.Pump",
    .tp_doc = PyDoc_STR("Pump(fd, guard): a publisher's socket, read on its own thread; guard: its incoming SRTP session."),
    .tp_basicsize = sizeof(Pump),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Pump_new,
    .tp_init = (initproc)Pump_init,
    .tp_dealloc = (destructor)Pump_dealloc,
    .tp_methods = Pump_methods,
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_fanout",
    .m_doc = "Forwarded audio fan-out below Python (see compat/devserver/fanout.py).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__fanout(void) {
    PyTypeObject *types[] = {&GuardType, &FanoutType, &PumpType};
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (PyModule_AddType(m, types[i]) < 0) {  /* readies the type and adds it by its short name */
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
