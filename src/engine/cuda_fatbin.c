/* cuda_fatbin.c — the CUDA kernels compiled by nvcc (src/engine/cuda/
 * kern_*.cu, each a fatbin with sm_80 and sm_90 machine code and compute_90
 * PTX; see the Makefile) embedded in the binary as read-only data with the
 * assembler's .incbin, or no kernels in a build made without nvcc (the
 * backend then reports "built without CUDA kernels" and the CPU runs). */
#include "engine/cuda_internal.h"

#ifdef GPURUN_HAVE_CUDA_KERNELS

/* gr_fatbin_<name> .. gr_fatbin_<name>_end: the bytes of kern_<name>.fatbin
 * from the build's cuda folder (GPURUN_FATBIN_DIR, set by the Makefile). */
#define FATBIN(name)                                                                               \
	__asm__(".section .rodata\n"                                                               \
	        ".balign 64\n"                                                                     \
	        ".globl gr_fatbin_" #name "\n"                                                     \
	        ".hidden gr_fatbin_" #name "\n"                                                    \
	        "gr_fatbin_" #name ":\n"                                                           \
	        ".incbin \"" GPURUN_FATBIN_DIR "/kern_" #name ".fatbin\"\n"                        \
	        ".globl gr_fatbin_" #name "_end\n"                                                 \
	        ".hidden gr_fatbin_" #name "_end\n"                                                \
	        "gr_fatbin_" #name "_end:\n"                                                       \
	        ".byte 0\n"                                                                        \
	        ".previous\n");                                                                    \
	extern const unsigned char gr_fatbin_##name[], gr_fatbin_##name##_end[]

FATBIN(matvec);
FATBIN(quant);
FATBIN(ops);
FATBIN(attn);

int cuda__fatbins(const void *const **images, const size_t **sizes)
{
	static const void *const im[] = {gr_fatbin_matvec, gr_fatbin_quant, gr_fatbin_ops,
	                                 gr_fatbin_attn};
	static size_t sz[4];
	sz[0] = (size_t)(gr_fatbin_matvec_end - gr_fatbin_matvec);
	sz[1] = (size_t)(gr_fatbin_quant_end - gr_fatbin_quant);
	sz[2] = (size_t)(gr_fatbin_ops_end - gr_fatbin_ops);
	sz[3] = (size_t)(gr_fatbin_attn_end - gr_fatbin_attn);
	*images = im;
	*sizes = sz;
	return 4;
}

#else

int cuda__fatbins(const void *const **images, const size_t **sizes)
{
	*images = NULL;
	*sizes = NULL;
	return 0;
}

#endif
