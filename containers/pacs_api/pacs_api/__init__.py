"""PACS API: DICOMweb-shaped HTTP access to the DICOM studies kept in ``PacsBucket``.

Layout in the bucket (ids are the files' own UIDs):
``studies/<StudyInstanceUID>/series/<SeriesInstanceUID>/instances/<SOPInstanceUID>.dcm``.
"""
