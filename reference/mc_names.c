/*
 * mc_names.c: printable names for the reference programs' output
 * (mc_names.h).
 */
#include "mc_names.h"

#include "mychat.pb-c.h"

const char *mc_names_error_code(int code) {
  if (code == 0)
    return "OK";
  /* The generated descriptor is the one list of names, so logs always
   * match the schema. */
  const ProtobufCEnumValue *v =
      protobuf_c_enum_descriptor_get_value(&mychat__error_code__descriptor,
                                           code);
  return v ? v->name : "UNKNOWN";
}
