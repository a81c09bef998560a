/* show.h — `gpurun show`'s model summary, shared by the file form
 * (`gpurun show FILE.gguf`) and the model-name form that asks a server. */
#ifndef GPURUN_CLI_SHOW_H
#define GPURUN_CLI_SHOW_H

#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"

/* Prints the summary of the GGUF file at path to out, laid out like
 * `ollama show`: Model (architecture, parameters, context length, embedding
 * length, quantization), Architecture-specific parameters present in the
 * file (heads, window, soft caps, layer pattern, RoPE), Tokenizer and File.
 * verbose adds every metadata key and the tensor list. 0, or a negative code
 * with a one-line message in err (the file is not valid GGUF, ...). */
int cli_show_file(const char *path, bool verbose, FILE *out, char err[ERR_MSG_LEN]);

#endif
