"""lmd_studio.engine"""
