"""Pure API machinery: Status errors, codecs, patches, selectors, quantities. No I/O."""
