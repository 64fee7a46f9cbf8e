/*
 * vmm_snapfile - the snapshot's vmstate file (snapfile.h) without KVM: a snapshot of two vCPUs
 * (one with XSAVE, one with the legacy FPU), MSRs, CPUID, irqchip, PIT, clock, config and
 * device records filled with patterns, written, read back and written again: the fields and
 * the two files are equal. Then every refusal, each with its reason: a bad magic, another
 * format version, a checksum mismatch (one byte of the body flipped), truncation (every
 * length from 0 to the whole file short of a byte), trailing bytes, an over-long section
 * (past its bound and past the file), a wrong section order, a fixed section of the wrong
 * size, a vCPU section with another id, an over-long MSR count, a missing devices section;
 * a refused read leaves the snapshot empty.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapfile.h"
#include "st_test.h"
#include "stratus/crypto.h"

static void fill(void *p, size_t n, uint8_t seed)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i * 7);
}

static char config[] = "{\"vcpus\": 2, \"memory_mib\": 128, \"kernel\": \"guest.elf\"}";
static uint8_t devs[300];
static struct kvm_msr_entry msrs[2][3];
static struct kvm_cpuid_entry2 cpuid[2][4];

static void make(vmm_snapshot *s, vmm_snap_vcpu v[2])
{
    memset(s, 0, sizeof *s);
    s->config = config;
    s->config_len = strlen(config);
    fill(s->irqchip, sizeof s->irqchip, 1);
    fill(&s->pit, sizeof s->pit, 2);
    fill(&s->clock, sizeof s->clock, 3);
    fill(devs, sizeof devs, 4);
    s->devs = devs;
    s->devs_len = sizeof devs;
    for (int i = 0; i < 2; i++) {
        memset(&v[i], 0, sizeof v[i]);
        v[i].tsc_khz = 2500000 + (uint32_t)i;
        fill(&v[i].regs, sizeof v[i].regs, (uint8_t)(10 + i));
        fill(&v[i].sregs, sizeof v[i].sregs, (uint8_t)(20 + i));
        v[i].has_xsave = i == 0;
        if (i == 0)
            fill(&v[i].xsave, sizeof v[i].xsave, 30);
        else
            fill(&v[i].fpu, sizeof v[i].fpu, 31);
        v[i].xcrs.nr_xcrs = 1;
        v[i].xcrs.xcrs[0].value = 7;
        fill(&v[i].lapic, sizeof v[i].lapic, (uint8_t)(40 + i));
        fill(&v[i].events, sizeof v[i].events, (uint8_t)(50 + i));
        v[i].mp.mp_state = (uint32_t)i;
        fill(&v[i].dregs, sizeof v[i].dregs, (uint8_t)(60 + i));
        for (int m = 0; m < 3; m++)
            msrs[i][m] = (struct kvm_msr_entry){.index = 0x10u + (uint32_t)m,
                                                .data = 0x1122334455667788ull + (uint64_t)m};
        v[i].msrs = msrs[i];
        v[i].nmsrs = 3;
        fill(cpuid[i], sizeof cpuid[i], (uint8_t)(70 + i));
        v[i].cpuid = cpuid[i];
        v[i].ncpuid = 4;
    }
    s->nvcpus = 2;
    s->vcpus = v;
}

static uint8_t *file;
static size_t file_len;

static void test_round_trip(void)
{
    vmm_snapshot s, r;
    vmm_snap_vcpu v[2];
    char err[256];
    make(&s, v);
    CU_ASSERT_EQUAL_FATAL(vmm_snap_write(&s, &file, &file_len, err, sizeof err), 0);
    CU_ASSERT(!memcmp(file, VMM_SNAP_MAGIC, 8));
    CU_ASSERT_EQUAL_FATAL(vmm_snap_read(&r, file, file_len, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(r.writer, vmm_version);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.writer, "stratus-vmm"));
    CU_ASSERT_STRING_EQUAL(r.config, config);
    CU_ASSERT(r.config_len == strlen(config));
    CU_ASSERT(!memcmp(r.irqchip, s.irqchip, sizeof s.irqchip));
    CU_ASSERT(!memcmp(&r.pit, &s.pit, sizeof s.pit));
    CU_ASSERT(!memcmp(&r.clock, &s.clock, sizeof s.clock));
    CU_ASSERT(r.devs_len == sizeof devs && !memcmp(r.devs, devs, sizeof devs));
    CU_ASSERT_EQUAL_FATAL(r.nvcpus, 2);
    for (int i = 0; i < 2; i++) {
        vmm_snap_vcpu *a = &v[i], *b = &r.vcpus[i];
        CU_ASSERT(a->tsc_khz == b->tsc_khz);
        CU_ASSERT(!memcmp(&a->regs, &b->regs, sizeof a->regs));
        CU_ASSERT(!memcmp(&a->sregs, &b->sregs, sizeof a->sregs));
        CU_ASSERT(a->has_xsave == b->has_xsave);
        if (a->has_xsave) {
            CU_ASSERT(!memcmp(&a->xsave, &b->xsave, sizeof a->xsave));
        } else {
            CU_ASSERT(!memcmp(&a->fpu, &b->fpu, sizeof a->fpu));
        }
        CU_ASSERT(!memcmp(&a->xcrs, &b->xcrs, sizeof a->xcrs));
        CU_ASSERT(!memcmp(&a->lapic, &b->lapic, sizeof a->lapic));
        CU_ASSERT(!memcmp(&a->events, &b->events, sizeof a->events));
        CU_ASSERT(!memcmp(&a->mp, &b->mp, sizeof a->mp));
        CU_ASSERT(!memcmp(&a->dregs, &b->dregs, sizeof a->dregs));
        CU_ASSERT_EQUAL_FATAL(b->nmsrs, 3);
        for (int m = 0; m < 3; m++)
            CU_ASSERT(b->msrs[m].index == a->msrs[m].index && b->msrs[m].data == a->msrs[m].data);
        CU_ASSERT_EQUAL_FATAL(b->ncpuid, 4);
        CU_ASSERT(!memcmp(b->cpuid, a->cpuid, sizeof cpuid[0]));
    }
    /* What was read writes the same file again. */
    uint8_t *again;
    size_t again_len;
    CU_ASSERT_EQUAL_FATAL(vmm_snap_write(&r, &again, &again_len, err, sizeof err), 0);
    CU_ASSERT(again_len == file_len && !memcmp(again, file, file_len));
    free(again);
    vmm_snap_free(&r);
}

/* Reads buf and expects a refusal whose message holds want; the snapshot is left empty. */
static void refused(const uint8_t *buf, size_t len, const char *want)
{
    vmm_snapshot r;
    char err[256] = "";
    int rc = vmm_snap_read(&r, buf, len, err, sizeof err);
    CU_ASSERT_EQUAL(rc, -EINVAL);
    if (!strstr(err, want))
        fprintf(stderr, "want \"%s\", got \"%s\"\n", want, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT(r.config == NULL && r.vcpus == NULL && r.devs == NULL && r.nvcpus == 0);
}

/* A copy of the file with its body's checksum recomputed: edits past the checksum. */
static uint8_t *copy(size_t *len)
{
    uint8_t *c = malloc(file_len + 64);
    memcpy(c, file, file_len);
    *len = file_len;
    return c;
}

static void reseal(uint8_t *c, size_t len)
{
    char sha[65];
    uint64_t body = len - VMM_SNAP_HEADER;
    memcpy(c + 16, &body, 8);
    st_sha256_hex(c + VMM_SNAP_HEADER, body, sha);
    memcpy(c + 24, sha, 64);
}

/* Offset of the n-th section (0: config) of the file. */
static size_t section_at(const uint8_t *c, int n)
{
    size_t off = VMM_SNAP_HEADER;
    for (int i = 0; i < n; i++) {
        uint32_t len;
        memcpy(&len, c + off + 4, 4);
        off += 8 + len;
    }
    return off;
}

/* The file with the u32 at `at` set to v and its checksum made right again: refused for want. */
static void edit32(size_t at, uint32_t v, const char *want)
{
    size_t len;
    uint8_t *c = copy(&len);
    memcpy(c + at, &v, 4);
    reseal(c, len);
    refused(c, len, want);
    free(c);
}

static void test_refusals(void)
{
    size_t len;
    uint8_t *c;
    CU_ASSERT_PTR_NOT_NULL_FATAL(file);

    c = copy(&len);
    c[0] = 'X';
    refused(c, len, "not a stratus-vmm vmstate file");
    free(c);

    c = copy(&len);
    uint32_t other = VMM_SNAP_FORMAT + 1;
    memcpy(c + 8, &other, 4);
    refused(c, len, "vmstate format 2 (written by \"stratus-vmm");
    free(c);

    c = copy(&len);
    c[len / 2] ^= 0x01;
    refused(c, len, "checksum mismatch");
    free(c);

    c = copy(&len);
    c[24] ^= 0x01; /* the checksum itself */
    refused(c, len, "checksum mismatch");
    free(c);

    /* Every truncation. */
    for (size_t n = 0; n < file_len; n++) {
        vmm_snapshot r;
        char err[256];
        CU_ASSERT_EQUAL(vmm_snap_read(&r, file, n, err, sizeof err), -EINVAL);
    }
    refused(file, VMM_SNAP_HEADER - 1, "not a stratus-vmm vmstate file");
    refused(file, file_len - 1, "vmstate truncated");

    c = copy(&len);
    c[len] = 0;
    refused(c, len + 1, "has trailing bytes");
    free(c);

    /* A config section longer than its bound (resealed: only the bound refuses it). */
    edit32(VMM_SNAP_HEADER + 4, VMM_SNAP_CONFIG_MAX + 1,
           "config section of 1048577 bytes (at most 1048576)");
    /* A devices section claiming more than the file holds. */
    edit32(section_at(file, 6) + 4, sizeof devs + 1,
           "devices section of 301 bytes, 300 left in the file");
    /* Sections out of order: IRQCHIP's tag turned into PIT's. */
    edit32(section_at(file, 1), VMM_SNAP_PIT, "found a PIT section (tag 3) where irqchip belongs");
    /* A fixed-size section of another size. */
    edit32(section_at(file, 3) + 4, sizeof(struct kvm_clock_data) - 1, "clock section of");
    /* The second vCPU section claims to be vCPU 0. */
    edit32(section_at(file, 5) + 8, 0, "vcpu 1: section holds vcpu 0");

    /* An MSR count past the format's bound and past the section. */
    size_t v0 = section_at(file, 4);
    size_t msr_at = v0 + 8 + 8 + sizeof(struct kvm_regs) + sizeof(struct kvm_sregs) + 1 +
                    sizeof(((vmm_snap_vcpu *)0)->xsave) + sizeof(struct kvm_xcrs) +
                    sizeof(struct kvm_lapic_state) + sizeof(struct kvm_vcpu_events) +
                    sizeof(struct kvm_mp_state) + sizeof(struct kvm_debugregs);
    uint32_t n;
    memcpy(&n, file + msr_at, 4);
    CU_ASSERT_EQUAL(n, 3); /* the offset above is right */
    edit32(msr_at, VMM_SNAP_MAX_MSRS + 1, "vcpu 0: 1025 MSRs");

    /* An FPU kind that is neither (the u8 and the first bytes of the XSAVE area). */
    size_t kind_at = v0 + 8 + 8 + sizeof(struct kvm_regs) + sizeof(struct kvm_sregs);
    uint32_t kind;
    memcpy(&kind, file + kind_at, 4);
    edit32(kind_at, (kind & ~0xffu) | 2, "vcpu 0: FPU kind 2");

    /* The devices section cut off: the file ends before it. */
    c = copy(&len);
    size_t cut = section_at(c, 6);
    reseal(c, cut);
    refused(c, cut, "vmstate ends before its devices section");
    free(c);

    /* A section after the last. */
    c = copy(&len);
    memset(c + len, 0, 8);
    reseal(c, len + 8);
    refused(c, len + 8, "section after the last one");
    free(c);

    /* Too many MSRs for the writer. */
    vmm_snapshot s;
    vmm_snap_vcpu v[2];
    char err[256];
    uint8_t *out = NULL;
    size_t out_len;
    make(&s, v);
    v[1].nmsrs = VMM_SNAP_MAX_MSRS + 1;
    CU_ASSERT_EQUAL(vmm_snap_write(&s, &out, &out_len, err, sizeof err), -EINVAL);
    CU_ASSERT_PTR_NULL(out);
}

static CU_TestInfo tests[] = {
    {"vmstate written, read and written again: equal fields, equal files", test_round_trip},
    {"bad magic, other format, checksum, truncation, over-long sections refused", test_refusals},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"snapfile", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    int rc = st_test_main(argc, argv, suites);
    free(file);
    return rc;
}
